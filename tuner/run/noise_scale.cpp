#include "tuner/run/noise_scale.hpp"

#include "reports/util/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace batchtune {
namespace {

struct Estimate {
  double gradient_norm_sq = 0;
  double trace_covariance = 0;
};

// McCandlish et al. 2018, appendix A: unbiased estimates from E|G_n|^2 = |G|^2 + tr(Sigma)/n.
Estimate unbiased(double small_mean, double large_mean, double b, double big) {
  Estimate e;
  e.gradient_norm_sq = (big * large_mean - b * small_mean) / (big - b);
  e.trace_covariance = (small_mean - large_mean) / (1.0 / b - 1.0 / big);
  return e;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  if (!std::isfinite(v[lo]) || !std::isfinite(v[hi])) return std::numeric_limits<double>::infinity();
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

}  // namespace

void zero_gradients(const std::vector<torch::Tensor>& parameters) {
  for (const auto& p : parameters) {
    if (p.grad().defined()) p.grad().zero_();
  }
}

double batch_squared_gradient_norm(const Workload& workload, Model& model, BatchSampler& sampler, std::int64_t n) {
  const std::vector<torch::Tensor> params = model.parameters();
  zero_gradients(params);
  auto [x, y] = workload.next_batch(sampler, n);
  torch::Tensor loss;
  {
    AutocastScope autocast(workload.device(), workload.precision());
    loss = workload.batch_loss(model, x, y).to(torch::kFloat32);
  }
  loss.backward();
  return squared_gradient_norm(params);
}

double squared_gradient_norm(const std::vector<torch::Tensor>& parameters) {
  double total = 0;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    total += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  }
  return total;
}

NoiseScale estimate_noise_scale(const std::function<double(std::int64_t)>& squared_norm, std::int64_t small_batch,
                                std::int64_t large_batch, int repeats, std::uint64_t seed) {
  NoiseScale n;
  n.small_batch = small_batch;
  n.large_batch = large_batch;
  n.repeats = repeats;
  if (small_batch < 1 || large_batch <= small_batch || repeats < 2) {
    n.status = NoiseScaleStatus::not_measured;
    n.message = "needs two batch sizes b < B and at least two repeats";
    return n;
  }
  for (int i = 0; i < repeats; ++i) {
    n.small_norms_sq.push_back(squared_norm(small_batch));
    n.large_norms_sq.push_back(squared_norm(large_batch));
  }
  const double b = double(small_batch), big = double(large_batch);
  const Estimate e = unbiased(*mean_of(n.small_norms_sq), *mean_of(n.large_norms_sq), b, big);
  n.gradient_norm_sq = e.gradient_norm_sq;
  n.trace_covariance = e.trace_covariance;
  if (!std::isfinite(e.gradient_norm_sq) || !std::isfinite(e.trace_covariance)) {
    n.status = NoiseScaleStatus::not_measured;
    n.message = "a gradient norm was not finite";
    return n;
  }
  if (e.gradient_norm_sq <= 0) {
    n.status = NoiseScaleStatus::noise_dominates;
    n.message = "the |G|^2 estimate is not positive: gradient noise swamps the mean gradient at these weights";
  } else {
    n.status = NoiseScaleStatus::measured;
    n.simple_noise_scale = std::max(0.0, e.trace_covariance) / e.gradient_norm_sq;
  }
  // Bootstrap over repeats (pairs resampled together); a resample whose
  // |G|^2 is not positive counts as an unbounded noise scale.
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::uniform_int_distribution<int> pick(0, repeats - 1);
  std::vector<double> resampled;
  for (int k = 0; k < 400; ++k) {
    double s = 0, l = 0;
    for (int i = 0; i < repeats; ++i) {
      const int j = pick(rng);
      s += n.small_norms_sq[j];
      l += n.large_norms_sq[j];
    }
    const Estimate r = unbiased(s / repeats, l / repeats, b, big);
    resampled.push_back(r.gradient_norm_sq > 0 ? std::max(0.0, r.trace_covariance) / r.gradient_norm_sq
                                               : std::numeric_limits<double>::infinity());
  }
  const double low = percentile(resampled, 0.1), high = percentile(resampled, 0.9);
  if (std::isfinite(low)) n.low = low;
  if (std::isfinite(high)) n.high = high;
  return n;
}

namespace {
struct Stopped {};
}  // namespace

NoiseScale measure_noise_scale(const Workload& w, const NoiseScaleSettings& s, double learning_rate) {
  const auto check_stop = [&] {
    if (s.stop && s.stop->load()) throw Stopped{};
  };
  try {
  auto model = w.make_model(s.seed);
  auto optimizer = w.make_optimizer(*model, learning_rate);
  // Another stream than the arms', and never bucketed: the estimator needs
  // batches drawn at random.
  BatchSampler sampler(w.data().train.size(), s.seed + 7919);
  LossScaler scaler;
  for (std::int64_t step = 0; step < s.warm_in_steps; ++step) {
    check_stop();
    auto [x, y] = w.next_batch(sampler, s.small_batch);
    train_step(*model, *optimizer, w, x, y, &scaler);
  }
  auto norm_at = [&](std::int64_t batch) {
    check_stop();
    return batch_squared_gradient_norm(w, *model, sampler, batch);
  };
  NoiseScale n = estimate_noise_scale(norm_at, s.small_batch, s.large_batch, s.repeats, s.seed);
  n.warm_in_steps = s.warm_in_steps;
  zero_gradients(model->parameters());
  return n;
  } catch (const Stopped&) {
    NoiseScale n;
    n.status = NoiseScaleStatus::not_measured;
    n.message = "interrupted by a signal";
    n.small_batch = s.small_batch;
    n.large_batch = s.large_batch;
    return n;
  }
}

}  // namespace batchtune
