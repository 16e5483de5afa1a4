// Data-parallel training over LibTorch's own collective layer (c10d): the
// process group of a torchrun or srun launch (Gloo, rendezvous through a
// TCPStore at MASTER_ADDR:MASTER_PORT), and the one step every rank takes
// together: each rank's share of the global batch forward and backward, the
// gradients (weighted by the share) summed by allreduce in buckets, then the
// same optimizer step everywhere. The c10d headers, and every difference
// between LibTorch 1.13 and 2.x in them, stay in data_parallel.cpp.
//
// Faults never hang: every collective is bounded by the group's timeout
// (`--dist-timeout`), a rank that died makes the others' next collective
// throw PeerFailure within it, and a rank that fails inside its own step
// (out of memory, the model's error) still joins that step's allreduce with
// a flag, so every rank ends the arm at the same step.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include "reports/util/error.hpp"
#include "tuner/dist/launch.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune::dist {

// A peer that died, did not arrive or stopped answering within the timeout.
struct PeerFailure : Error {
  explicit PeerFailure(const std::string& m) : Error(ExitCode::rank_failed, m) {}
};

// Whether this build has c10d's Gloo backend (its headers were found).
bool gloo_available();
// Whether it has c10d's NCCL backend (a CUDA LibTorch with nccl.h).
bool nccl_available();

// The collective backend of a launch: Gloo on CPUs, NCCL between GPUs.
enum class Backend { gloo, nccl };
// `--dist-backend` (auto, gloo or nccl) for ranks that train on CUDA devices
// or on CPUs: auto is NCCL on CUDA devices where this build has it, Gloo
// otherwise. NCCL asked for on CPUs, or in a build without it, is one
// DeviceError (exit 4) naming the fix.
Backend choose_backend(const std::string& request, bool cuda_devices, bool nccl_built);
std::string to_string(Backend b);

class GradientBuckets;

// True once a rank gave up on a store handshake that never answered: its
// thread is still blocked there, and the process should end without
// running static destructors under it (std::_Exit; tuner/main.cpp).
bool left_threads_behind();

class DataParallel {
 public:
  // Meets the other ranks (rank 0 hosts the store) within `timeout`.
  // Throws PeerFailure naming who was waited for, DeviceError when this
  // build has no Gloo. Gloo always carries the small exchanges (options,
  // probes, stop flags: CPU tensors); with Backend::nccl the model's
  // tensors (weights, gradients) go over NCCL on `device`, the rank's GPU.
  static std::unique_ptr<DataParallel> connect(const LaunchInfo& launch, std::chrono::milliseconds timeout,
                                               Backend backend = Backend::gloo,
                                               torch::Device device = torch::kCPU);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return launch_.rank; }
  int world_size() const { return launch_.world_size; }
  const LaunchInfo& launch() const { return launch_; }
  std::string backend() const { return to_string(backend_); }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Rank 0's parameters and buffers to every rank.
  void broadcast_model(Model& model);
  // Sums each tensor over the ranks, in place (CPU tensors): one allreduce
  // a tensor, all started before the first is waited on.
  void allreduce_sum(std::vector<torch::Tensor>& tensors);
  // The same, split: start summing `tensor` (in place; left untouched until
  // waited for), and wait for every one started. Every rank starts the same
  // tensors in the same order.
  void start_allreduce(torch::Tensor tensor);
  void wait_allreduces();
  // Every rank's value, in rank order.
  std::vector<std::int64_t> allgather(std::int64_t value);
  std::vector<double> allgather_double(double value);
  // Every rank's text (at most 255 bytes each), in rank order.
  std::vector<std::string> allgather_text(const std::string& text);
  // Rank 0's values to every rank (the others' `values` are replaced).
  void broadcast(std::vector<std::int64_t>& values);
  void barrier();
  // Runs `step` on every rank and shares how it ended: where it threw on
  // some rank (a refusal that rank meets alone: its device, its memory, its
  // files), every rank throws, with that rank's exit code and its message
  // after "rank R: ", rather than leave the others waiting for it until
  // --dist-timeout. The rank that failed throws its own error.
  void all_or_none(const std::function<void()>& step);
  // The gradient buckets for these parameters: kept (with their hooks)
  // while the model is the same, made anew for another.
  GradientBuckets& buckets_for(const std::vector<torch::Tensor>& params);

 private:
  struct Group;
  DataParallel(LaunchInfo launch, std::chrono::milliseconds timeout, std::unique_ptr<Group> group, Backend backend);
  LaunchInfo launch_;
  Backend backend_ = Backend::gloo;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Group> group_;
  std::unique_ptr<GradientBuckets> buckets_;
};

// This rank's rows of a global batch of `global` samples: [begin, end).
// Shares differ by at most one sample; every rank gets at least one when
// global >= world.
std::pair<std::int64_t, std::int64_t> rank_rows(std::int64_t global, int rank, int world);

struct StepOutcome {
  double loss = 0;               // the global batch's mean loss (the same on every rank)
  double compute_seconds = 0;    // forward, backward and the optimizer step, synchronised
  // The gradient allreduce left after backward: the buckets that became
  // ready during backward were summed behind it (overlapped), so this is
  // the communication the step waited for.
  double communication_seconds = 0;
  // Set when a rank failed inside the step: the step was not taken anywhere.
  std::optional<int> failed_rank;
  bool failed_out_of_memory = false;
  std::string failure;           // this rank's own error, or which rank failed
  bool stop = false;             // some rank was asked to stop (a signal)
  double rank0_clock = 0;        // rank 0's `clock`, the same on every rank
};

// One data-parallel step on this rank's `inputs`/`targets` (its rows of a
// global batch of `global_batch`): the local mean loss is weighted by the
// rank's share, so the summed gradients are exactly the global batch's mean
// gradient, then every rank steps. `stop_requested` is this rank's stop
// flag, shared with the others in the same allreduce, as is rank 0's
// `clock` (its training seconds so far: a seconds budget ends every rank's
// arm at the same step). fp32 and bf16 only.
// Throws PeerFailure when a peer is gone.
StepOutcome data_parallel_step(DataParallel& dp, Model& model, torch::optim::Optimizer& optimizer,
                               const Workload& workload, const torch::Tensor& inputs, const torch::Tensor& targets,
                               std::int64_t global_batch, bool stop_requested, double clock = 0);

}  // namespace batchtune::dist
