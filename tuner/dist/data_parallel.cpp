#include "tuner/dist/data_parallel.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>
#include <cstring>
#include <exception>
#include <type_traits>
#include <utility>

#include "probes/oom.hpp"
#include "tuner/workload/precision.hpp"

#if BATCHTUNE_WITH_GLOO
// ProcessGroupGloo.hpp is empty unless USE_C10D_GLOO is defined (CMake sets
// it with BATCHTUNE_WITH_GLOO). The .hpp paths hold from 1.13 to 2.x.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if BATCHTUNE_WITH_NCCL
// ProcessGroupNCCL.hpp is empty unless USE_C10D_NCCL is defined (CMake sets
// it with BATCHTUNE_WITH_NCCL: a CUDA LibTorch and nccl.h).
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace batchtune::dist {
namespace {

// A thread left blocked in a handshake that never came (connect()).
std::atomic<bool> g_left_behind{false};

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string first_line(const std::string& m) { return m.substr(0, m.find('\n')); }

}  // namespace

bool left_threads_behind() { return g_left_behind.load(); }

bool nccl_available() {
#if BATCHTUNE_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::string to_string(Backend b) { return b == Backend::nccl ? "nccl" : "gloo"; }

Backend choose_backend(const std::string& request, bool cuda_devices, bool nccl_built) {
  if (request == "gloo") return Backend::gloo;
  if (request == "auto") return cuda_devices && nccl_built ? Backend::nccl : Backend::gloo;
  if (request != "nccl") throw UsageError("--dist-backend " + request + ": choose auto, gloo or nccl");
  if (!nccl_built) {
    throw DeviceError("--dist-backend nccl: this batchtune was built without NCCL (a CPU LibTorch, or no nccl.h: "
                      "Debian's libnccl-dev with libtorch-cuda-dev); use --dist-backend gloo");
  }
  if (!cuda_devices) {
    throw DeviceError("--dist-backend nccl: NCCL joins GPUs and these ranks train on the CPU (no CUDA device, or "
                      "--device cpu); leave --dist-backend at auto (Gloo on CPUs) or run on CUDA devices");
  }
  return Backend::nccl;
}

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
#if BATCHTUNE_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;  // the model's tensors, with Backend::nccl
#endif
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;  // start_allreduce's, until wait_allreduces
};

bool gloo_available() { return true; }

namespace {
// 2.4 and later: TCPStoreOptions::useLibUV, true by default, and a build
// without libuv (Debian's 2.6) refuses to start the store with it. The
// sockets backend is in every version: asked for where the option exists.
template <class Options, class = void>
struct HasUseLibUV : std::false_type {};
template <class Options>
struct HasUseLibUV<Options, std::void_t<decltype(std::declval<Options&>().useLibUV)>> : std::true_type {};
template <class Options>
void use_plain_sockets(Options& options) {
  if constexpr (HasUseLibUV<Options>::value) options.useLibUV = false;
}

// A peer failure, in words: Gloo says "Connection reset by peer", "Timed
// out waiting ...ms for recv", "Socket Timeout".
[[noreturn]] void peer_failed(const std::string& what, const std::exception& e, const DataParallel& dp) {
  throw PeerFailure("rank " + std::to_string(dp.rank()) + " of " + std::to_string(dp.world_size()) + ": " + what +
                    ": a peer died, ran out of memory or stopped answering within --dist-timeout " +
                    std::to_string(dp.timeout().count() / 1000) + " s (" + first_line(e.what()) + ")");
}

std::string not_all_arrived(const LaunchInfo& launch, const std::string& where, std::chrono::milliseconds timeout,
                            const std::exception& e) {
  return "rank " + std::to_string(launch.rank) + ": not every one of the " + std::to_string(launch.world_size) +
         " ranks (WORLD_SIZE) arrived at " + where + " within --dist-timeout " +
         std::to_string(timeout.count() / 1000) + " s (" + first_line(e.what()) +
         "); start all of them, or launch with a smaller world";
}
}  // namespace

namespace {
// `op` on the group that carries `t`: NCCL for a CUDA tensor where the
// launch has it, Gloo otherwise. Both groups' collectives return a Work.
template <class GroupT, class Op>
auto on_backend(GroupT& group, const torch::Tensor& t, Op&& op) {
#if BATCHTUNE_WITH_NCCL
  if (group.nccl && t.is_cuda()) return op(*group.nccl);
#else
  (void)t;
#endif
  return op(*group.gloo);
}
}  // namespace

std::unique_ptr<DataParallel> DataParallel::connect(const LaunchInfo& launch, std::chrono::milliseconds timeout,
                                                    Backend backend, [[maybe_unused]] torch::Device device) {
  auto group = std::make_unique<Group>();
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(launch.master_port);
    so.isServer = launch.rank == 0;
    so.numWorkers = static_cast<std::size_t>(launch.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    use_plain_sockets(so);
    // The store's own timeout bounds the connect, not a handshake with
    // something that accepts and never answers (another program on
    // MASTER_PORT): the store is made on a thread of its own, and past the
    // timeout (and a second's grace) the rank gives up on it.
    // (Rank 0 listens; its wait for the others is the store's own, bounded.)
    auto made = std::make_shared<std::promise<c10::intrusive_ptr<c10d::TCPStore>>>();
    auto store = made->get_future();
    const std::string addr = launch.master_addr;
    auto make = [made, addr, so] {
      try {
        made->set_value(c10::make_intrusive<c10d::TCPStore>(addr, so));
      } catch (...) {
        made->set_exception(std::current_exception());
      }
    };
    if (launch.rank == 0) {
      make();
    } else {
      std::thread(make).detach();
    }
    if (store.wait_for(timeout + std::chrono::seconds(1)) != std::future_status::ready) {
      g_left_behind.store(true);
      throw PeerFailure("rank " + std::to_string(launch.rank) + ": what listens on " + where +
                        " did not answer the store's handshake within --dist-timeout " +
                        std::to_string(timeout.count() / 1000) + " s; is another program holding MASTER_PORT " +
                        std::to_string(launch.master_port) + "? Launch with a free port (torchrun --master-port, "
                        "or export MASTER_PORT) and the same MASTER_ADDR on every rank");
    }
    group->store = store.get();
  } catch (const PeerFailure&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::transform(what.begin(), what.end(), what.begin(), [](unsigned char c) { return std::tolower(c); });
    if (launch.rank == 0 && (what.find("address already in use") != std::string::npos ||
                             what.find("eaddrinuse") != std::string::npos)) {
      throw PeerFailure("rank 0 could not listen on " + where + ": MASTER_PORT " +
                        std::to_string(launch.master_port) +
                        " is in use on this machine; launch again with a free port (torchrun --master-port, or "
                        "export MASTER_PORT)");
    }
    // 2.x's store server waits for the workers itself (1.13's returns, and
    // the group's constructor times out instead, below).
    if (what.find("waiting for clients") != std::string::npos || what.find("clients joined") != std::string::npos) {
      throw PeerFailure(not_all_arrived(launch, where, timeout, e));
    }
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
    throw PeerFailure(not_all_arrived(launch, where, timeout, e));
  }
  if (backend == Backend::nccl) {
#if BATCHTUNE_WITH_NCCL
    // The communicator is made on the first collective, on the current
    // device: this rank's GPU. Its keys go under their own prefix in the
    // store Gloo shares.
    try {
      c10::cuda::set_device(device.has_index() ? device.index() : static_cast<c10::DeviceIndex>(launch.local_rank));
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      group->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("nccl/", group->store), launch.rank, launch.world_size, options);
    } catch (const std::exception& e) {
      throw PeerFailure("rank " + std::to_string(launch.rank) + ": could not make the NCCL group on " +
                        device.str() + " (" + first_line(e.what()) + "); --dist-backend gloo runs without it");
    }
#else
    throw DeviceError("--dist-backend nccl: this batchtune was built without NCCL; use --dist-backend gloo");
#endif
  }
  return std::unique_ptr<DataParallel>(new DataParallel(launch, timeout, std::move(group), backend));
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
      on_backend(*group_, one.front(), [&](auto& g) { return g.broadcast(one, o); })->wait();
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
      works.push_back(on_backend(*group_, t, [&](auto& g) { return g.allreduce(one); }));
    }
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    peer_failed("summing gradients", e, *this);
  }
}

void DataParallel::start_allreduce(torch::Tensor tensor) {
  try {
    std::vector<torch::Tensor> one{std::move(tensor)};
    group_->pending.push_back(on_backend(*group_, one.front(), [&](auto& g) { return g.allreduce(one); }));
  } catch (const std::exception& e) {
    group_->pending.clear();
    peer_failed("summing gradients", e, *this);
  }
}

void DataParallel::wait_allreduces() {
  auto pending = std::move(group_->pending);
  group_->pending.clear();
  try {
    for (auto& w : pending) w->wait();
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

std::unique_ptr<DataParallel> DataParallel::connect(const LaunchInfo& launch, std::chrono::milliseconds, Backend,
                                                    torch::Device) {
  throw DeviceError("a data-parallel launch (" + launch.launcher + ", WORLD_SIZE " +
                    std::to_string(launch.world_size) + ") needs c10d's Gloo backend, and this batchtune was built "
                    "without its headers (Debian: apt install libgloo-dev, then rebuild); run one process instead");
}
void DataParallel::broadcast_model(Model&) {}
void DataParallel::allreduce_sum(std::vector<torch::Tensor>&) {}
void DataParallel::start_allreduce(torch::Tensor) {}
void DataParallel::wait_allreduces() {}
std::vector<std::int64_t> DataParallel::allgather(std::int64_t v) { return {v}; }
std::vector<double> DataParallel::allgather_double(double v) { return {v}; }
std::vector<std::string> DataParallel::allgather_text(const std::string& t) { return {t}; }
void DataParallel::broadcast(std::vector<std::int64_t>&) {}
void DataParallel::barrier() {}

#endif

void DataParallel::all_or_none(const std::function<void()>& step) {
  std::exception_ptr own;
  std::string mine;  // "CODE MESSAGE", empty when the step went through
  try {
    step();
  } catch (const Error& e) {
    own = std::current_exception();
    mine = std::to_string(static_cast<int>(e.code())) + " " + e.what();
  } catch (const std::exception& e) {
    own = std::current_exception();
    mine = std::to_string(static_cast<int>(ExitCode::runtime_failure)) + " " + e.what();
  }
  if (mine.size() > 255) mine = mine.substr(0, 251) + "...";
  const std::vector<std::string> outcomes = allgather_text(mine);
  if (own) std::rethrow_exception(own);
  for (std::size_t r = 0; r < outcomes.size(); ++r) {
    const std::string& o = outcomes[r];
    if (o.empty()) continue;
    const std::size_t space = o.find(' ');
    const int code = std::atoi(o.substr(0, space).c_str());
    throw Error(code > 0 ? static_cast<ExitCode>(code) : ExitCode::runtime_failure,
                "rank " + std::to_string(r) + ": " + (space == std::string::npos ? o : o.substr(space + 1)) +
                    " (every rank stopped before training)");
  }
}

std::pair<std::int64_t, std::int64_t> rank_rows(std::int64_t global, int rank, int world) {
  const std::int64_t base = global / world, extra = global % world;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

// The gradients in buckets of about 25 MB after a first one of 1 MB (PyTorch
// DDP's defaults: the first starts early), the parameters in reverse order
// (backward reaches the last layers first). A hook on each parameter copies
// its gradient into its bucket as backward produces it; a full bucket's
// allreduce starts at once, behind the rest of backward, in bucket order on
// every rank (Gloo matches collectives by order). The hooks stay on the
// model from step to step (LibTorch keeps a removed hook's slot) and act
// only inside a data-parallel step. BATCHTUNE_DIST_OVERLAP=0 waits for the
// end of backward instead (for bench/data_parallel_scaling.sh to measure
// the difference).
class GradientBuckets {
 public:
  GradientBuckets(DataParallel& dp, const std::vector<torch::Tensor>& params) : state_(std::make_shared<State>()) {
    constexpr std::int64_t kFirstBucketFloats = (1 << 20) / 4, kBucketFloats = (25 << 20) / 4;
    const char* overlap = std::getenv("BATCHTUNE_DIST_OVERLAP");
    State& st = *state_;
    st.dp = &dp;
    st.overlap = !(overlap && std::string(overlap) == "0");
    std::int64_t filled = 0;
    std::vector<std::int64_t> sizes;
    st.slot.resize(params.size());
    for (std::size_t k = params.size(); k-- > 0;) {
      const std::int64_t n = params[k].numel();
      const std::int64_t cap = sizes.size() <= 1 ? kFirstBucketFloats : kBucketFloats;
      if (sizes.empty() || (filled > 0 && filled + n > cap)) {
        sizes.push_back(0);
        filled = 0;
      }
      st.slot[k] = {sizes.size() - 1, sizes.back(), n};
      sizes.back() += n;
      filled += n;
    }
    for (std::int64_t n : sizes) st.flat.push_back(torch::zeros({n}, torch::kFloat32));
    for (std::size_t k = 0; k < params.size(); ++k) {
      ids_.emplace_back(params[k].getIntrusivePtr());
      // The hook holds the state, not this object: a model that outlives its
      // buckets finds them inactive.
      params[k].register_hook([state = state_, k](const torch::Tensor& grad) { state->arrived(k, grad); });
    }
  }
  ~GradientBuckets() { state_->active = false; }
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  bool serves(const std::vector<torch::Tensor>& params) const {
    if (params.size() != ids_.size()) return false;
    for (std::size_t k = 0; k < params.size(); ++k) {
      if (ids_[k].lock().get() != params[k].unsafeGetTensorImpl()) return false;
    }
    return true;
  }
  // Before backward: empty buckets, hooks on.
  void begin() {
    State& st = *state_;
    for (auto& f : st.flat) f.zero_();
    st.pending.assign(st.flat.size(), 0);
    for (const auto& sl : st.slot) ++st.pending[sl.bucket];
    st.arrived_at.assign(st.slot.size(), false);
    st.started = 0;
    st.peer_failure = nullptr;
    st.failure.clear();
    st.failure_out_of_memory = false;
    st.active = true;
  }
  // A hook's own failure (not a peer's): the step's failure on this rank.
  const std::string& failure() const { return state_->failure; }
  bool failure_out_of_memory() const { return state_->failure_out_of_memory; }
  // After backward (or its failure): hooks off; a gradient that never came
  // through its hook is taken from the parameter (zeros where it has none,
  // or everywhere after a failure: `failed`); every bucket not yet started
  // starts, in order.
  void finish(const std::vector<torch::Tensor>& params, bool failed) {
    State& st = *state_;
    st.active = false;
    if (st.peer_failure) std::rethrow_exception(st.peer_failure);
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Slot& sl = st.slot[k];
      if (sl.bucket < st.started || st.arrived_at[k]) continue;
      const torch::Tensor g = params[k].grad();
      torch::Tensor dst = st.summed(k);
      if (failed || !g.defined()) {
        dst.zero_();
      } else {
        dst.copy_(g.detach().reshape({-1}));
      }
    }
    st.pending.assign(st.flat.size(), 0);
    st.start_ready();
  }
  torch::Tensor summed(std::size_t k) const { return state_->summed(k); }

 private:
  struct Slot {
    std::size_t bucket = 0;
    std::int64_t offset = 0, numel = 0;
  };
  struct State {
    DataParallel* dp = nullptr;
    bool overlap = true, active = false;
    std::vector<torch::Tensor> flat;
    std::vector<Slot> slot;                // each parameter's bucket and place in it
    std::vector<std::int64_t> pending;     // gradients each bucket still waits for
    std::vector<bool> arrived_at;          // this step, per parameter
    std::size_t started = 0;               // buckets started, in order
    std::exception_ptr peer_failure;
    std::string failure;
    bool failure_out_of_memory = false;

    torch::Tensor summed(std::size_t k) const {
      const Slot& sl = slot[k];
      return flat[sl.bucket].slice(0, sl.offset, sl.offset + sl.numel);
    }
    void start_ready() {
      while (started < flat.size() && pending[started] <= 0) dp->start_allreduce(flat[started++]);
    }
    void arrived(std::size_t k, const torch::Tensor& grad) {
      if (!active || peer_failure || !failure.empty()) return;
      // Nothing is thrown into autograd (it would read as the model's own
      // failure): a peer's failure is rethrown by finish(), this rank's own
      // ends the step like a failed backward.
      try {
        torch::NoGradGuard no_grad;
        if (slot[k].bucket < started) return;  // its bucket is already out (a gradient twice)
        summed(k).copy_(grad.detach().reshape({-1}));  // to the CPU, as float32
        arrived_at[k] = true;
        if (--pending[slot[k].bucket] == 0 && overlap) start_ready();
      } catch (const PeerFailure&) {
        peer_failure = std::current_exception();
      } catch (const std::exception& e) {
        failure = describe_model_error(e);
        failure_out_of_memory = probes::is_out_of_memory(e);
      }
    }
  };
  std::shared_ptr<State> state_;
  std::vector<c10::weak_intrusive_ptr<c10::TensorImpl>> ids_;  // the parameters served, without keeping them
};

DataParallel::DataParallel(LaunchInfo launch, std::chrono::milliseconds timeout, std::unique_ptr<Group> group,
                           Backend backend)
    : launch_(std::move(launch)), backend_(backend), timeout_(timeout), group_(std::move(group)) {}

DataParallel::~DataParallel() = default;

GradientBuckets& DataParallel::buckets_for(const std::vector<torch::Tensor>& params) {
  if (!buckets_ || !buckets_->serves(params)) buckets_ = std::make_unique<GradientBuckets>(*this, params);
  return *buckets_;
}

StepOutcome data_parallel_step(DataParallel& dp, Model& model, torch::optim::Optimizer& optimizer,
                               const Workload& workload, const torch::Tensor& inputs, const torch::Tensor& targets,
                               std::int64_t global_batch, bool stop_requested, double clock) {
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
  GradientBuckets& buckets = dp.buckets_for(params);
  buckets.begin();
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
  if (!failed && !buckets.failure().empty()) {
    failed = true;
    o.failure = buckets.failure();
    o.failed_out_of_memory = buckets.failure_out_of_memory();
  }
  // What backward did not start starts now; then one small allreduce of the
  // weighted loss, one failure slot per rank and the stop flag, so the
  // ranks decide together. After a failure every bucket still goes out (as
  // zeros where not yet started): the ranks' collectives must pair up.
  const auto t1 = clock_type::now();
  torch::NoGradGuard no_grad;
  buckets.finish(params, failed);
  torch::Tensor control = torch::zeros({3 + world}, torch::kFloat64);
  control[0] = weighted_loss;
  if (failed) control[1 + dp.rank()] = o.failed_out_of_memory ? 2.0 : 1.0;
  control[1 + world] = stop_requested ? 1.0 : 0.0;
  if (dp.rank() == 0) control[2 + world] = clock;
  dp.start_allreduce(control);
  dp.wait_allreduces();
  o.communication_seconds = seconds_since(t1);
  o.loss = control[0].item<double>();
  o.stop = control[1 + world].item<double>() > 0;
  o.rank0_clock = control[2 + world].item<double>();
  for (int r = 0; r < world; ++r) {
    const double flag = control[1 + r].item<double>();
    if (flag > 0 && !o.failed_rank) {
      o.failed_rank = r;
      if (r != dp.rank()) {
        o.failed_out_of_memory = flag > 1.5;
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
    for (std::size_t k = 0; k < params.size(); ++k) {
      auto& p = params[k];
      torch::Tensor g = buckets.summed(k).view(p.sizes()).to(p.device(), p.scalar_type());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(g);
      } else {
        p.mutable_grad() = g.clone();
      }
    }
    optimizer.step();
    if (workload.device().is_cuda()) torch::cuda::synchronize();
  } catch (const std::exception& e) {
    throw PeerFailure("rank " + std::to_string(dp.rank()) + " failed after the gradients were summed (" +
                      describe_model_error(e) + "); its weights would no longer match the other ranks', so the run "
                      "ends on every rank");
  }
  // Everything but the allreduce the step waited for: forward, backward
  // (with the buckets' copies and the allreduces it overlapped), unpacking,
  // the optimizer step.
  o.compute_seconds = seconds_since(t0) - o.communication_seconds;
  return o;
}

}  // namespace batchtune::dist
