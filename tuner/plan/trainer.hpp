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

#include "reports/model/sweep_report.hpp"

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
  // Multiplies the optimizer's momentum buffers (SGD's, or Adam's first
  // moment) by `factor`, so that an arm whose rate is k times the trunk's
  // starts with the trunk's step (factor 1/k): the rate applies to the whole
  // buffer, and a buffer filled at the small batch's noise would otherwise
  // be thrown k times as far at once. Returns the momentum coefficient mu
  // (SGD's momentum, Adam's beta1: the buffer then refills towards its
  // steady state at rate 1 - mu per step, and the arm's first steps lag the
  // rate: the analysis takes that lag out); none when the optimizer keeps no
  // such buffer (nothing changed).
  virtual std::optional<double> rescale_momentum(double factor) {
    (void)factor;
    return std::nullopt;
  }
  // Re-levels an adaptive optimizer's second-moment estimate (Adam's and
  // AdamW's exp_avg_sq, an average over ~1/(1 - beta2) = 1000 steps) from
  // the trunk's batch to an arm's: a run at batch B holds E[g_B^2] = mu^2 +
  // sigma^2 / B, and the trunk's estimate, kept at the smaller batch, would
  // damp every step of a short arm at a larger one (by up to sqrt(B / b)
  // where noise dominates, undoing the square-root rule). Per parameter
  // tensor, |mu|^2 and tr(Sigma) are measured from micro-batches of the
  // trunk's batch at the branch's weights (once per branch point; call it
  // right after restore()). The first moment is scaled by the factor's root,
  // so the update m / sqrt(v) at the branch stays the trunk's (the rate's
  // change is rescale_momentum's). Returns the factor applied,
  // averaged over the parameters' entries; none when the optimizer keeps no
  // such estimate or the measurement failed (nothing changed).
  virtual std::optional<double> relevel_second_moment(std::int64_t trunk_batch, std::int64_t arm_batch) {
    (void)trunk_batch;
    (void)arm_batch;
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
