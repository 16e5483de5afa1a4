// The whole-run tune's plan::Trainer over a Workload: one model, optimizer
// and sampler, stepped at any batch size and learning rate; snapshots of the
// whole state (parameters, buffers, the optimizer's state through its own
// serialisation, the sampler and the loss scaler) to branch from; the
// evaluation on the workload's fixed validation subset; gradient norms at
// the current weights for the noise scale.
#pragma once

#include <array>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "probes/memory_meter.hpp"
#include "tuner/plan/trainer.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

class WorkloadTrainer final : public plan::Trainer {
 public:
  // `eval_samples`: the validation subset every evaluation uses (0: all).
  // `meter` (may be null) enforces the probe's capacity on every step.
  WorkloadTrainer(const Workload& workload, std::int64_t eval_samples, probes::MemoryMeter* meter);
  ~WorkloadTrainer() override;

  void reset(std::uint64_t seed) override;
  plan::StepOutcome step(std::int64_t batch, double lr) override;
  plan::EvalOutcome evaluate() override;
  int save() override;
  void restore(int snapshot) override;
  std::optional<plan::GradientNorms> gradient_norms(std::int64_t small_batch, std::int64_t large_batch) override;
  std::optional<double> rescale_momentum(double factor) override;
  std::optional<double> relevel_second_moment(std::int64_t trunk_batch, std::int64_t arm_batch) override;
  // Not for a model with floating-point buffers (batch-norm statistics): its
  // averaged weights would need the statistics recomputed, as SWA does.
  bool begin_average(int slot = 0) override;
  std::optional<plan::EvalOutcome> evaluate_average(int slot = 0) override;

 private:
  struct Snapshot;
  const Workload& workload_;
  std::int64_t eval_samples_;
  probes::MemoryMeter* meter_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<BatchSampler> sampler_;
  LossScaler scaler_;
  double first_loss_ = 0;
  std::vector<std::unique_ptr<Snapshot>> snapshots_;
  int restored_ = -1;  // the snapshot last put back; -1 after a step from elsewhere
  // Per parameter tensor at a snapshot's weights: |mu|^2 and tr(Sigma) of
  // the gradient of one micro-batch of `batch` samples.
  struct GradientSpread {
    std::int64_t batch = 0;
    std::vector<double> mean_sq;
    std::vector<double> noise;
  };
  std::vector<std::optional<GradientSpread>> spreads_;  // by snapshot
  std::optional<GradientSpread> measure_spread(std::int64_t batch);
  struct Average {
    std::vector<torch::Tensor> parameters;  // the running average
    std::int64_t count = 0;                 // the weights in it; 0: none kept
  };
  std::array<Average, kAverageSlots> averages_;
  void clear_averages() {
    for (auto& a : averages_) a = Average{};
  }
};

}  // namespace batchtune
