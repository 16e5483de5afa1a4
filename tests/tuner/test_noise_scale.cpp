// The gradient noise scale estimator against a case with a known answer:
// linear regression y = x.w* + e, x ~ N(0, I_d), e ~ N(0, s^2), loss
// 0.5 (x.w - y)^2 at weights w. With d = w - w*, the mean gradient is G = d and
// the per-example covariance is |d|^2 I + d d^T + s^2 I, so
//   |G|^2 = |d|^2,  tr(Sigma) = (d + 1) |d|^2 + d s^2.
#include "tests/support/catch.hpp"

#include <torch/torch.h>

#include "tuner/run/noise_scale.hpp"

using namespace batchtune;

namespace {

struct Regression {
  std::int64_t dim = 10;
  double noise_sd = 1.0;
  torch::Tensor w_true;
  torch::Tensor w;  // the weights the gradient is taken at

  explicit Regression(std::uint64_t seed) {
    torch::manual_seed(seed);
    w_true = torch::randn({dim}, torch::kFloat64);
    // |w - w*|^2 = 1 exactly
    torch::Tensor d = torch::randn({dim}, torch::kFloat64);
    d = d / d.norm();
    w = (w_true + d).clone().set_requires_grad(true);
  }
  double true_noise_scale() const {
    const double d2 = 1.0;
    return ((double(dim) + 1) * d2 + double(dim) * noise_sd * noise_sd) / d2;
  }
  double squared_norm(std::int64_t n) {
    torch::Tensor x = torch::randn({n, dim}, torch::kFloat64);
    torch::Tensor y = x.matmul(w_true) + noise_sd * torch::randn({n}, torch::kFloat64);
    if (w.grad().defined()) w.grad().zero_();
    torch::Tensor loss = 0.5 * (x.matmul(w) - y).pow(2).mean();
    loss.backward();
    return squared_gradient_norm({w});
  }
};

}  // namespace

TEST_CASE("the noise scale estimate lands within 15% of the analytic value on average", "[tuner][noise]") {
  double sum = 0;
  double g2_sum = 0;
  const int runs = 20;
  for (int run = 0; run < runs; ++run) {
    Regression problem(100 + run);
    const NoiseScale n = estimate_noise_scale([&](std::int64_t b) { return problem.squared_norm(b); }, 8, 128, 32,
                                              std::uint64_t(run));
    REQUIRE(n.status == NoiseScaleStatus::measured);
    REQUIRE(n.simple_noise_scale.has_value());
    REQUIRE(n.low.has_value());
    CHECK(*n.low <= *n.simple_noise_scale);
    if (n.high) CHECK(*n.high >= *n.simple_noise_scale);
    CHECK(n.small_norms_sq.size() == 32);
    sum += *n.simple_noise_scale;
    g2_sum += *n.gradient_norm_sq;
  }
  const double truth = Regression(0).true_noise_scale();  // 21
  CHECK(sum / runs == Approx(truth).epsilon(0.15));
  CHECK(g2_sum / runs == Approx(1.0).epsilon(0.15));
}

TEST_CASE("noise that swamps the mean gradient is a status, not an error", "[tuner][noise]") {
  // At the optimum (w = w*) the mean gradient is zero: |G|^2 estimates
  // scatter around 0 and are often not positive.
  int dominated = 0;
  for (int run = 0; run < 10; ++run) {
    Regression problem(200 + run);
    {
      torch::NoGradGuard no_grad;
      problem.w.copy_(problem.w_true);
    }
    const NoiseScale n = estimate_noise_scale([&](std::int64_t b) { return problem.squared_norm(b); }, 8, 64, 8,
                                              std::uint64_t(run));
    CHECK((n.status == NoiseScaleStatus::measured || n.status == NoiseScaleStatus::noise_dominates));
    if (n.status == NoiseScaleStatus::noise_dominates) {
      ++dominated;
      CHECK_FALSE(n.simple_noise_scale.has_value());
      CHECK_FALSE(n.message.empty());
    }
  }
  CHECK(dominated >= 2);
}

TEST_CASE("the estimator refuses a degenerate setup", "[tuner][noise]") {
  const NoiseScale n = estimate_noise_scale([](std::int64_t) { return 1.0; }, 64, 64, 8, 0);
  CHECK(n.status == NoiseScaleStatus::not_measured);
}
