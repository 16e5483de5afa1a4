// A noisy quadratic model (Zhang et al. 2019; McCandlish et al. 2018) as a
// plan::Trainer, with its answer in closed form.
//
// Loss L(theta) = 1/2 sum_i h_i theta_i^2 over d coordinates whose curvatures
// h_i are spread log-evenly. A batch of B samples gives the gradient
// h_i theta_i + sqrt(h_i / B) sigma z_i (z standard normal): the per-sample
// gradient covariance is sigma^2 H, constant, while the true gradient H theta
// shrinks as the loss falls, so the simple noise scale
// B_simple = sigma^2 tr(H) / |H theta|^2 grows analytically as training goes
// on. The step time is injected: t(B) = t0 + c min(B, saturation) (a device
// whose throughput climbs with the batch until it saturates).
//
// The expected loss of SGD on it is exact: per coordinate,
// E[theta']^2 = (1 - lr h)^2 E[theta^2] + lr^2 h sigma^2 / B, so the steps
// any (batch, learning-rate schedule) needs to reach a target loss, and the
// time, are known without sampling. That is the analytic answer the whole-run
// tune is held against.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "tuner/plan/trainer.hpp"

namespace batchtune::testing {

struct NqmSpec {
  int dimensions = 1024;
  double min_curvature = 0.002;
  double max_curvature = 2.0;
  double sigma = 1.0;          // per-sample gradient noise, in units of sqrt(h)
  double t0 = 1e-3;            // step time at batch 0
  double per_sample = 1e-3 / 256.0;
  double saturation = 1e9;     // the batch past which the step time stops climbing
  double step_time(double batch) const { return t0 + per_sample * std::min(batch, saturation); }
  std::vector<double> curvatures() const {
    std::vector<double> h(static_cast<std::size_t>(dimensions));
    for (int i = 0; i < dimensions; ++i) {
      const double f = dimensions > 1 ? double(i) / double(dimensions - 1) : 0.0;
      h[static_cast<std::size_t>(i)] = min_curvature * std::pow(max_curvature / min_curvature, f);
    }
    return h;
  }
};

class NqmTrainer final : public plan::Trainer {
 public:
  explicit NqmTrainer(NqmSpec spec) : spec_(spec), h_(spec.curvatures()) {}

  void reset(std::uint64_t seed) override {
    theta_.assign(h_.size(), 1.0);
    velocity_.assign(h_.size(), 0.0);
    stepped_ = false;
    rng_.seed(seed * 7919 + 17);
    snapshots_.clear();
    for (auto& a : averages_) a.count = 0;
  }

  plan::StepOutcome step(std::int64_t batch, double lr) override {
    plan::StepOutcome o;
    o.loss = loss();
    o.seconds = spec_.step_time(double(batch));
    std::normal_distribution<double> z(0.0, 1.0);
    for (std::size_t i = 0; i < h_.size(); ++i) {
      const double g = h_[i] * theta_[i] + std::sqrt(h_[i] / double(batch)) * spec_.sigma * z(rng_);
      // SGD as PyTorch's: v = mu v + g, theta -= lr v (plain SGD at mu 0).
      velocity_[i] = momentum * velocity_[i] + g;
      theta_[i] -= lr * velocity_[i];
    }
    stepped_ = true;
    for (auto& a : averages_) {
      if (a.count == 0) continue;
      ++a.count;
      for (std::size_t i = 0; i < h_.size(); ++i) a.theta[i] += (theta_[i] - a.theta[i]) / double(a.count);
    }
    const double after = loss();
    if (!std::isfinite(after) || after > 10.0 * initial_loss()) {
      o.status = ArmStatus::diverged;
      o.message = "the quadratic diverged";
    }
    return o;
  }

  plan::EvalOutcome evaluate() override { return plan::EvalOutcome{loss(), std::nullopt}; }

  bool begin_average(int slot = 0) override {
    if (!averaging || slot < 0 || slot >= kAverageSlots) return false;
    averages_[static_cast<std::size_t>(slot)] = {theta_, 1};
    return true;
  }
  std::optional<plan::EvalOutcome> evaluate_average(int slot = 0) override {
    if (slot < 0 || slot >= kAverageSlots || averages_[static_cast<std::size_t>(slot)].count == 0) return std::nullopt;
    return plan::EvalOutcome{loss_of(averages_[static_cast<std::size_t>(slot)].theta), std::nullopt};
  }
  bool averaging = true;  // false: a trainer that keeps no average
  double momentum = 0.0;  // SGD's; the closed form (NqmExpected) is for 0 only

  std::optional<double> rescale_momentum(double factor) override {
    if (momentum <= 0 || !stepped_) return std::nullopt;
    for (double& v : velocity_) v *= factor;
    return momentum;
  }

  int save() override {
    snapshots_.push_back({theta_, velocity_, rng_});
    return static_cast<int>(snapshots_.size()) - 1;
  }
  void restore(int snapshot) override {
    theta_ = snapshots_.at(static_cast<std::size_t>(snapshot)).theta;
    velocity_ = snapshots_.at(static_cast<std::size_t>(snapshot)).velocity;
    stepped_ = true;
    rng_ = snapshots_.at(static_cast<std::size_t>(snapshot)).rng;
    for (auto& a : averages_) a.count = 0;
  }

  std::optional<plan::GradientNorms> gradient_norms(std::int64_t small_batch, std::int64_t large_batch) override {
    std::mt19937_64 rng = rng_;  // the trunk's noise stream is untouched
    std::normal_distribution<double> z(0.0, 1.0);
    auto norm_sq = [&](std::int64_t b) {
      double s = 0;
      for (std::size_t i = 0; i < h_.size(); ++i) {
        const double g = h_[i] * theta_[i] + std::sqrt(h_[i] / double(b)) * spec_.sigma * z(rng);
        s += g * g;
      }
      return s;
    };
    plan::GradientNorms n;
    n.small_batch = small_batch;
    n.large_batch = large_batch;
    n.small_norm_sq = norm_sq(small_batch);
    n.large_norm_sq = norm_sq(large_batch);
    return n;
  }

  double initial_loss() const {
    double l = 0;
    for (double h : h_) l += 0.5 * h;
    return l;
  }

  double loss() const { return loss_of(theta_); }
  double loss_of(const std::vector<double>& theta) const {
    double l = 0;
    for (std::size_t i = 0; i < h_.size(); ++i) l += 0.5 * h_[i] * theta[i] * theta[i];
    return l;
  }

 private:
  struct Snapshot {
    std::vector<double> theta;
    std::vector<double> velocity;
    std::mt19937_64 rng;
  };
  NqmSpec spec_;
  std::vector<double> h_;
  std::vector<double> theta_;
  std::vector<double> velocity_;
  bool stepped_ = false;
  std::mt19937_64 rng_;
  std::vector<Snapshot> snapshots_;
  struct Average {
    std::vector<double> theta;
    std::int64_t count = 0;
  };
  std::array<Average, kAverageSlots> averages_;
};

// The exact expected loss of SGD on the quadratic, from theta = 1.
class NqmExpected {
 public:
  explicit NqmExpected(const NqmSpec& spec) : spec_(spec), h_(spec.curvatures()) {}

  double initial_loss() const {
    double l = 0;
    for (double h : h_) l += 0.5 * h;
    return l;
  }

  // Steps at `batch` and constant `lr` to an expected loss at or below
  // `target`; none when it never gets there (within max_steps, or diverges).
  std::optional<double> steps_to(double target, std::int64_t batch, double lr, std::int64_t max_steps = 2000000) const {
    std::vector<double> m(h_.size(), 1.0);
    double prev = initial_loss();
    for (std::int64_t t = 1; t <= max_steps; ++t) {
      double l = 0;
      for (std::size_t i = 0; i < h_.size(); ++i) {
        const double a = 1.0 - lr * h_[i];
        m[i] = a * a * m[i] + lr * lr * h_[i] * spec_.sigma * spec_.sigma / double(batch);
        l += 0.5 * h_[i] * m[i];
      }
      if (l <= target) {
        // Between the two steps, linearly.
        return double(t - 1) + (prev - target) / std::max(prev - l, 1e-300);
      }
      if (!std::isfinite(l) || l > 1e6) return std::nullopt;
      // Stalled above the target at its floor.
      if (t > 1000 && l >= prev * (1.0 - 1e-10)) return std::nullopt;
      prev = l;
    }
    return std::nullopt;
  }

  // The expected loss after `steps` steps at `batch` and `lr`.
  double loss_after(std::int64_t steps, std::int64_t batch, double lr) const {
    std::vector<double> m(h_.size(), 1.0);
    double l = initial_loss();
    for (std::int64_t t = 1; t <= steps; ++t) {
      l = 0;
      for (std::size_t i = 0; i < h_.size(); ++i) {
        const double a = 1.0 - lr * h_[i];
        m[i] = a * a * m[i] + lr * lr * h_[i] * spec_.sigma * spec_.sigma / double(batch);
        l += 0.5 * h_[i] * m[i];
      }
    }
    return l;
  }

 private:
  NqmSpec spec_;
  std::vector<double> h_;
};

}  // namespace batchtune::testing
