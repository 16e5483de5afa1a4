#include "tuner/dist/data_parallel.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "probes/oom.hpp"
#include "tuner/workload/precision.hpp"

#if BATCHTUNE_WITH_GLOO
// ProcessGroupGloo.hpp is empty unless USE_C10D_GLOO is defined (CMake sets
// it with BATCHTUNE_WITH_GLOO). The .hpp paths hold from 1.13 to 2.x.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace batchtune::dist {
namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string first_line(const std::string& m) { return m.substr(0, m.find('\n')); }

}  // namespace

#if BATCHTUNE_WITH_GLOO

// The one place LibTorch versions differ here. 1.13: ProcessGroupGloo is a
// c10d::ProcessGroup; 2.x: a c10d::Backend behind the dispatcher's
// ProcessGroup. Its collectives (broadcast, allreduce, allgather, barrier,
// each returning a Work to wait on) are the same calls on both, so the
// concrete class is held. Only the group's timeout bounds a Gloo collective
// before 2.9 (the per-operation timeout is ignored), so it is the one used.
// 1.13's store server returns silently when workers are missing (2.x
// throws): the group's constructor then times out, which is caught.
struct DataParallel::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

bool gloo_available() { return true; }

namespace {
// A peer failure, in words: Gloo says "Connection reset by peer", "Timed
// out waiting ...ms for recv", "Socket Timeout".
[[noreturn]] void peer_failed(const std::string& what, const std::exception& e, const DataParallel& dp) {
  throw PeerFailure("rank " + std::to_string(dp.rank()) + " of " + std::to_string(dp.world_size()) + ": " + what +
                    ": a peer died, ran out of memory or stopped answering within --dist-timeout " +
                    std::to_string(dp.timeout().count() / 1000) + " s (" + first_line(e.what()) + ")");
}
}  // namespace

std::unique_ptr<DataParallel> DataParallel::connect(const LaunchInfo& launch, std::chrono::milliseconds timeout) {
  auto group = std::make_unique<Group>();
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(launch.master_port);
    so.isServer = launch.rank == 0;
    so.numWorkers = static_cast<std::size_t>(launch.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    group->store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, so);
  } catch (const std::exception& e) {
    throw PeerFailure("rank " + std::to_string(launch.rank) + " could not meet the other ranks at " + where +
                      " within --dist-timeout " + std::to_string(timeout.count() / 1000) + " s (" +
                      first_line(e.what()) + "); start all " + std::to_string(launch.world_size) +
                      " ranks with the same MASTER_ADDR and MASTER_PORT, and a port that is free on rank 0");
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // The interface that reaches MASTER_ADDR's network: the hostname's own
    // address for several machines, loopback when everything is local.
    const bool local = launch.master_addr == "127.0.0.1" || launch.master_addr == "localhost" ||
                       launch.local_world_size == launch.world_size;
    options->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                     : c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 2;
    group->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, launch.rank, launch.world_size, options);
  } catch (const std::exception& e) {
    throw PeerFailure("rank " + std::to_string(launch.rank) + ": not every one of the " +
                      std::to_string(launch.world_size) + " ranks (WORLD_SIZE) arrived at " + where + " within " +
                      "--dist-timeout " + std::to_string(timeout.count() / 1000) + " s (" + first_line(e.what()) +
                      "); start all of them, or launch with a smaller world");
  }
  return std::unique_ptr<DataParallel>(new DataParallel(launch, timeout, std::move(group)));
}

void DataParallel::broadcast_model(Model& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state = model.parameters();
  for (auto& b : model.buffers()) state.push_back(b);
  for (auto& t : state) {
    std::vector<torch::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
    try {
      c10d::BroadcastOptions o;
      o.rootRank = 0;
      group_->gloo->broadcast(one, o)->wait();
    } catch (const std::exception& e) {
      peer_failed("broadcasting the initial weights", e, *this);
    }
    if (!t.is_contiguous()) t.copy_(one.front());
  }
}

void DataParallel::allreduce_sum(std::vector<torch::Tensor>& tensors) {
  try {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& t : tensors) {
      std::vector<torch::Tensor> one{t};
      works.push_back(group_->gloo->allreduce(one));
    }
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    peer_failed("summing gradients", e, *this);
  }
}

namespace {
// Every rank's tensor like `mine` (the same shape and dtype on every rank).
std::vector<torch::Tensor> gather_all(c10d::ProcessGroupGloo& gloo, const torch::Tensor& mine,
                                      const DataParallel& dp, const std::string& what) {
  std::vector<torch::Tensor> in{mine};
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int r = 0; r < dp.world_size(); ++r) out[0].push_back(torch::empty_like(mine));
  try {
    gloo.allgather(out, in)->wait();
  } catch (const std::exception& e) {
    peer_failed(what, e, dp);
  }
  return out[0];
}
}  // namespace

std::vector<std::int64_t> DataParallel::allgather(std::int64_t value) {
  std::vector<std::int64_t> values;
  for (const auto& t : gather_all(*group_->gloo, torch::tensor({value}, torch::kInt64), *this,
                                  "gathering the ranks' values")) {
    values.push_back(t.item<std::int64_t>());
  }
  return values;
}

std::vector<double> DataParallel::allgather_double(double value) {
  std::vector<double> values;
  for (const auto& t : gather_all(*group_->gloo, torch::tensor({value}, torch::kFloat64), *this,
                                  "gathering the ranks' values")) {
    values.push_back(t.item<double>());
  }
  return values;
}

std::vector<std::string> DataParallel::allgather_text(const std::string& text) {
  constexpr std::int64_t kBytes = 256;
  torch::Tensor mine = torch::zeros({kBytes}, torch::kUInt8);
  const std::size_t n = std::min<std::size_t>(text.size(), kBytes - 1);
  std::memcpy(mine.data_ptr<std::uint8_t>(), text.data(), n);
  std::vector<std::string> texts;
  for (const auto& t : gather_all(*group_->gloo, mine, *this, "gathering the ranks' names")) {
    texts.emplace_back(reinterpret_cast<const char*>(t.data_ptr<std::uint8_t>()));
  }
  return texts;
}

void DataParallel::broadcast(std::vector<std::int64_t>& values) {
  // The length first, so that ranks that do not know it agree on it.
  std::vector<torch::Tensor> size{torch::tensor({static_cast<std::int64_t>(values.size())}, torch::kInt64)};
  c10d::BroadcastOptions o;
  o.rootRank = 0;
  try {
    group_->gloo->broadcast(size, o)->wait();
    const std::int64_t n = size.front().item<std::int64_t>();
    std::vector<torch::Tensor> data{rank() == 0 && n > 0 ? torch::tensor(values, torch::kInt64)
                                                         : torch::zeros({n}, torch::kInt64)};
    if (n > 0) group_->gloo->broadcast(data, o)->wait();
    values.assign(static_cast<std::size_t>(n), 0);
    for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = data.front()[i].item<std::int64_t>();
  } catch (const std::exception& e) {
    peer_failed("sharing rank 0's plan", e, *this);
  }
}

void DataParallel::barrier() {
  try {
    group_->gloo->barrier()->wait();
  } catch (const std::exception& e) {
    peer_failed("waiting for every rank", e, *this);
  }
}

#else  // no Gloo in this build

struct DataParallel::Group {};

bool gloo_available() { return false; }

std::unique_ptr<DataParallel> DataParallel::connect(const LaunchInfo& launch, std::chrono::milliseconds) {
  throw DeviceError("a data-parallel launch (" + launch.launcher + ", WORLD_SIZE " +
                    std::to_string(launch.world_size) + ") needs c10d's Gloo backend, and this batchtune was built "
                    "without its headers (Debian: apt install libgloo-dev, then rebuild); run one process instead");
}
void DataParallel::broadcast_model(Model&) {}
void DataParallel::allreduce_sum(std::vector<torch::Tensor>&) {}
std::vector<std::int64_t> DataParallel::allgather(std::int64_t v) { return {v}; }
std::vector<double> DataParallel::allgather_double(double v) { return {v}; }
std::vector<std::string> DataParallel::allgather_text(const std::string& t) { return {t}; }
void DataParallel::broadcast(std::vector<std::int64_t>&) {}
void DataParallel::barrier() {}

#endif

DataParallel::DataParallel(LaunchInfo launch, std::chrono::milliseconds timeout, std::unique_ptr<Group> group)
    : launch_(std::move(launch)), timeout_(timeout), group_(std::move(group)) {}

DataParallel::~DataParallel() = default;

std::pair<std::int64_t, std::int64_t> rank_rows(std::int64_t global, int rank, int world) {
  const std::int64_t base = global / world, extra = global % world;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

StepOutcome data_parallel_step(DataParallel& dp, Model& model, torch::optim::Optimizer& optimizer,
                               const Workload& workload, const torch::Tensor& inputs, const torch::Tensor& targets,
                               std::int64_t global_batch, bool stop_requested) {
  StepOutcome o;
  const int world = dp.world_size();
  const double share = double(inputs.size(0)) / double(global_batch);
  std::vector<torch::Tensor> params;
  for (auto& p : model.parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  const auto t0 = clock_type::now();
  optimizer.zero_grad();
  double weighted_loss = 0;
  bool failed = false;
  try {
    torch::Tensor loss;
    {
      AutocastScope autocast(workload.device(), workload.precision());
      loss = workload.batch_loss(model, inputs, targets).to(torch::kFloat32);
    }
    (loss * share).backward();
    weighted_loss = loss.item<double>() * share;
  } catch (const std::exception& e) {
    failed = true;
    o.failure = describe_model_error(e);
    o.failed_out_of_memory = probes::is_out_of_memory(e);
    drain_autograd(workload.device());
  }
  // One flat float32 buffer: every gradient (zeros where none, or after a
  // failure), then the weighted loss, one failure slot per rank and the stop
  // flag. One allreduce carries all of it, so the ranks decide together.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> pieces;
  for (auto& p : params) {
    torch::Tensor g = p.grad();
    if (!g.defined() || failed) g = torch::zeros_like(p);
    pieces.push_back(g.detach().to(torch::kCPU, torch::kFloat32).reshape({-1}));
  }
  torch::Tensor control = torch::zeros({2 + world}, torch::kFloat32);
  control[0] = weighted_loss;
  if (failed) control[1 + dp.rank()] = o.failed_out_of_memory ? 2.0f : 1.0f;
  control[1 + world] = stop_requested ? 1.0f : 0.0f;
  pieces.push_back(control);
  // Buckets of about 25 MB (PyTorch DDP's default), each its own allreduce,
  // all in flight at once; then one flat view to read back from.
  constexpr std::int64_t kBucketFloats = (25 << 20) / 4;
  std::vector<torch::Tensor> buckets;
  std::vector<torch::Tensor> gathering;
  std::int64_t filled = 0;
  for (auto& piece : pieces) {
    if (!gathering.empty() && filled + piece.numel() > kBucketFloats) {
      buckets.push_back(torch::cat(gathering));
      gathering.clear();
      filled = 0;
    }
    gathering.push_back(piece);
    filled += piece.numel();
  }
  buckets.push_back(torch::cat(gathering));
  const auto t1 = clock_type::now();
  dp.allreduce_sum(buckets);
  o.communication_seconds = seconds_since(t1);
  const torch::Tensor summed = buckets.size() == 1 ? buckets.front() : torch::cat(buckets);
  const std::int64_t control_at = summed.size(0) - (2 + world);
  const torch::Tensor c = summed.slice(0, control_at);
  o.loss = c[0].item<double>();
  o.stop = c[1 + world].item<float>() > 0;
  for (int r = 0; r < world; ++r) {
    const float flag = c[1 + r].item<float>();
    if (flag > 0 && !o.failed_rank) {
      o.failed_rank = r;
      if (r != dp.rank()) {
        o.failed_out_of_memory = flag > 1.5f;
        o.failure = std::string("rank ") + std::to_string(r) + (o.failed_out_of_memory ? " ran out of memory" : " failed") +
                    " in this step (its own output names the error)";
      } else {
        o.failure = "rank " + std::to_string(r) + ": " + o.failure;
      }
    }
  }
  if (o.failed_rank) {
    o.compute_seconds = seconds_since(t0) - o.communication_seconds;
    return o;
  }
  // Past the allreduce a failure here (an optimizer allocating its state out
  // of memory) would leave this rank's weights apart from the others': the
  // run cannot go on in step, so it ends like a lost peer, on every rank.
  try {
  std::int64_t offset = 0;
  for (auto& p : params) {
    const std::int64_t n = p.numel();
    torch::Tensor g = summed.slice(0, offset, offset + n).view(p.sizes()).to(p.device(), p.scalar_type());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(g);
    } else {
      p.mutable_grad() = g.clone();
    }
    offset += n;
  }
  optimizer.step();
  if (workload.device().is_cuda()) torch::cuda::synchronize();
  } catch (const std::exception& e) {
    throw PeerFailure("rank " + std::to_string(dp.rank()) + " failed after the gradients were summed (" +
                      describe_model_error(e) + "); its weights would no longer match the other ranks', so the run "
                      "ends on every rank");
  }
  // Everything but the allreduce: forward, backward, packing and unpacking
  // the gradients, the optimizer step.
  o.compute_seconds = seconds_since(t0) - o.communication_seconds;
  return o;
}

}  // namespace batchtune::dist
