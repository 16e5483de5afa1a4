// What the whole-run planner needs of a training session, and nothing more:
// steps at any batch size and learning rate, an evaluation on a fixed subset,
// snapshots of the whole training state (weights, optimizer state, data
// order) to branch from, and squared gradient norms at the current weights.
// tuner/run/workload_trainer.* implements it over a Workload (LibTorch);
// tests implement it over a noisy quadratic with a known answer, which is
// why this folder is torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "reports/sweep_report.hpp"

namespace batchtune::plan {

struct StepOutcome {
  ArmStatus status = ArmStatus::completed;  // completed, diverged, out_of_memory or failed
  double loss = 0;                          // the batch's training loss
  double seconds = 0;                       // data + compute, synchronised
  std::string message;                      // why, when not completed
};

struct EvalOutcome {
  double loss = 0;
  std::optional<double> accuracy;
};

// Squared norms of the mean gradient over two fresh batches of different
// sizes at the same weights (no step taken).
struct GradientNorms {
  std::int64_t small_batch = 0;
  std::int64_t large_batch = 0;
  double small_norm_sq = 0;
  double large_norm_sq = 0;
};

class Trainer {
 public:
  virtual ~Trainer() = default;
  // A fresh model, optimizer and data order from the seed.
  virtual void reset(std::uint64_t seed) = 0;
  // One optimizer step on the next `batch` samples at learning rate `lr`.
  virtual StepOutcome step(std::int64_t batch, double lr) = 0;
  // The loss (and accuracy) on the fixed evaluation subset; training mode after.
  virtual EvalOutcome evaluate() = 0;
  // Keeps the whole training state; returns its handle.
  virtual int save() = 0;
  // Puts a kept state back (any number of times).
  virtual void restore(int snapshot) = 0;
  // Multiplies the optimizer's momentum buffers by `factor`, so that an arm
  // whose rate is k times the trunk's starts with the trunk's step (factor
  // 1/k): SGD applies the rate to the whole buffer, and a buffer filled at
  // the small batch's noise would otherwise be thrown k times as far at once.
  // Returns the momentum coefficient mu (the buffer then refills towards its
  // steady state at rate 1 - mu per step, and the arm's first steps lag the
  // rate: the analysis takes that lag out); none when the optimizer keeps no
  // such buffer (nothing changed).
  virtual std::optional<double> rescale_momentum(double factor) {
    (void)factor;
    return std::nullopt;
  }
  // Starts a running average of the weights (uniform, Polyak-Ruppert) at the
  // current ones in `slot` (0 or 1: two run side by side, as the trunk's
  // own and the base batch's window the trunk stands in for); every later
  // step adds its weights. Starting a slot again restarts it; reset() and
  // restore() end both. False when the trainer keeps none (the arms then
  // pool raw evaluations instead).
  static constexpr int kAverageSlots = 2;
  virtual bool begin_average(int slot = 0) {
    (void)slot;
    return false;
  }
  // The evaluation at the slot's averaged weights; none without an average.
  virtual std::optional<EvalOutcome> evaluate_average(int slot = 0) {
    (void)slot;
    return std::nullopt;
  }
  // None when the measurement failed (memory); the state is unchanged.
  virtual std::optional<GradientNorms> gradient_norms(std::int64_t small_batch, std::int64_t large_batch) = 0;
};

}  // namespace batchtune::plan
