// The simple gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et
// al. 2018, eq. 2.8), estimated from squared gradient norms at two batch
// sizes b < B at the same weights, after a short warm-in. A prior for the
// critical batch size; the recommendation calibrates it against the sweep.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "reports/model/recommendation.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

struct NoiseScaleSettings {
  std::int64_t small_batch = 16;
  std::int64_t large_batch = 512;
  int repeats = 16;
  std::int64_t warm_in_steps = 20;  // at small_batch, at the base learning rate
  std::uint64_t seed = 0;
  // Checked before every step: when true the measurement stops and reports
  // status not_measured ("interrupted").
  const std::atomic<bool>* stop = nullptr;
};

// |sum of squared gradient entries| over the parameters, accumulated in
// float64 (gradients are float32 here: unscaled, unclipped).
double squared_gradient_norm(const std::vector<torch::Tensor>& parameters);

// Zeroes the gradients of `parameters` that have one.
void zero_gradients(const std::vector<torch::Tensor>& parameters);

// |G_n|^2 for the next batch of n samples from `sampler` at the model's
// current weights: gradients zeroed, the batch's loss (under the workload's
// autocast, unscaled: parameters and so gradients stay float32) backward,
// the squared norm. The gradients are left in place.
double batch_squared_gradient_norm(const Workload& workload, Model& model, BatchSampler& sampler, std::int64_t n);

// The estimator proper: `squared_norm(n)` returns |G_n|^2 for a fresh batch of
// n samples at fixed weights. Averages the norms over repeats (numerator and
// denominator separately), divides once; a bootstrap over the repeats gives
// the 10th-90th percentile interval. A |G|^2 estimate that is not positive is
// the "noise_dominates" status, not an error.
NoiseScale estimate_noise_scale(const std::function<double(std::int64_t)>& squared_norm, std::int64_t small_batch,
                                std::int64_t large_batch, int repeats, std::uint64_t seed);

// On a workload: warm in from the seed's initial weights, then estimate.
NoiseScale measure_noise_scale(const Workload& workload, const NoiseScaleSettings& settings, double learning_rate);

}  // namespace batchtune
