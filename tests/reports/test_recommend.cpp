// The recommendation's models against exact synthetic data: S(B) and t(B)
// recovered, T(B) minimised where the formulas put it, each objective's pick.
#include <catch2/catch.hpp>

#include <cmath>

#include "reports/recommend.hpp"

using namespace batchtune;

namespace {

constexpr double kMinSteps = 200;
constexpr double kCritical = 300;
constexpr double kFixedS = 0.02;       // t0
constexpr double kPerSampleS = 1e-4;   // c: throughput saturates near t0/c = 200

double exact_steps(double b) { return kMinSteps * (1 + kCritical / b); }
double exact_step_s(double b) { return kFixedS + kPerSampleS * b; }

// A sweep whose arms cross the target exactly at S(B) steps (evaluations every
// step near the crossing) with step times t(B).
SweepResult exact_sweep(const std::vector<std::int64_t>& sizes, double budget_samples) {
  SweepResult s;
  s.budget_kind = "samples";
  s.budget_value = budget_samples;
  s.lr_scaling = "linear";
  s.base_batch = 64;
  s.base_learning_rate = 0.1;
  s.seeds = 2;
  s.target_loss = 1.0;
  for (std::int64_t b : sizes) {
    for (std::uint64_t seed : {0, 1}) {
      SweepArm a;
      a.batch_size = b;
      a.seed = seed;
      a.learning_rate = scaled_learning_rate("linear", 0.1, 64, b);
      const double t = exact_step_s(double(b));
      const auto steps = static_cast<std::int64_t>(budget_samples / double(b));
      a.steps = steps;
      a.samples = steps * b;
      for (int i = 0; i < 10; ++i) a.step_seconds.push_back(t), a.data_seconds.push_back(0);
      a.samples_per_s = double(b) / t;
      const double cross = exact_steps(double(b));
      // loss falls linearly in steps: 2 at step 0, 1 (the target) at S(B)
      for (std::int64_t k = 1; k <= steps; k += std::max<std::int64_t>(1, steps / 8)) {
        const double loss = 2.0 - double(k) / cross;
        a.evaluations.push_back(EvalPoint{k, k * b, double(k) * t, loss, std::nullopt});
      }
      a.final_validation_loss = a.evaluations.back().loss;
      s.arms.push_back(a);
    }
  }
  summarise_sweep(s);
  return s;
}

// The recommendation for `sweep` with a probe whose safe maximum is 1024 and
// no noise scale measured.
Recommendation recommend_at_1024(const SweepResult& sweep, const RecommendSettings& settings = {}) {
  ProbeResult probe;
  probe.safe_max_batch = 1024;
  probe.largest_fitting_batch = 1100;
  WorkloadInfo w;
  w.optimizer = "sgd";
  NoiseScale noise;
  noise.status = "not_measured";
  return recommend(sweep, &probe, w, noise, settings);
}

}  // namespace

TEST_CASE("the S(B) fit recovers S_min and B_crit from exact data", "[reports][recommend]") {
  std::vector<std::pair<double, double>> pts;
  for (double b : {16.0, 32.0, 64.0, 128.0, 512.0}) pts.emplace_back(b, exact_steps(b));
  const auto fit = fit_steps_to_target(pts);
  REQUIRE(fit.has_value());
  CHECK(fit->min_steps == Approx(kMinSteps).epsilon(1e-9));
  CHECK(fit->critical_batch == Approx(kCritical).epsilon(1e-9));
  CHECK(fit->r_squared == Approx(1.0));
  CHECK(fit->points == 5);

  SECTION("too few sizes, or steps falling faster than 1/B, give no fit") {
    CHECK_FALSE(fit_steps_to_target({{16, 100}}).has_value());
    CHECK_FALSE(fit_steps_to_target({{16, 100}, {32, 20}}).has_value());  // negative intercept
  }
}

TEST_CASE("the step-time fit recovers t0 and c, and the saturation batch", "[reports][recommend]") {
  std::vector<std::pair<double, double>> pts;
  for (double b : {16.0, 64.0, 256.0, 1024.0}) pts.emplace_back(b, exact_step_s(b));
  const auto fit = fit_step_time(pts);
  REQUIRE(fit.has_value());
  CHECK(fit->fixed_s == Approx(kFixedS).epsilon(1e-9));
  CHECK(fit->per_sample_s == Approx(kPerSampleS).epsilon(1e-9));
  REQUIRE(fit->saturation_batch.has_value());
  CHECK(*fit->saturation_batch == Approx(200));
  // Interpolation between measured sizes is exact at them and in between for a power law.
  CHECK(interpolate_step_time(pts, 64) == Approx(exact_step_s(64)));
}

TEST_CASE("time to target is minimised near sqrt(B_crit x B_sat)", "[reports][recommend]") {
  const SweepResult sweep = exact_sweep({16, 32, 64, 128, 256, 512, 1024}, 600000);
  const Recommendation r = recommend_at_1024(sweep);
  REQUIRE(r.steps_fit.has_value());
  CHECK(r.steps_fit->critical_batch == Approx(kCritical).epsilon(0.02));
  // T(B) = S_min (1 + Bc/B)(t0 + c B) is minimal at sqrt(Bc t0 / c) = sqrt(300 x 200) = 245; the
  // pick is the largest grid size within 5% of the minimum (T is flat there): 256 on this grid.
  const double best = std::sqrt(kCritical * kFixedS / kPerSampleS);
  CHECK(double(r.batch_size) >= 0.75 * best);
  CHECK(double(r.batch_size) <= 1.6 * best);
  double analytic_best = 1e300;
  for (const auto& p : r.predictions) {
    analytic_best = std::min(analytic_best, exact_steps(double(p.batch_size)) * exact_step_s(double(p.batch_size)));
  }
  REQUIRE(r.predicted_seconds_to_target.has_value());
  CHECK(*r.predicted_seconds_to_target <= analytic_best * 1.05 * 1.01);
  CHECK(*r.predicted_seconds_to_target >= analytic_best * 0.99);
  CHECK(r.learning_rate == Approx(0.1 * double(r.batch_size) / 64));
  REQUIRE(r.max_fit_slowdown.has_value());
  const double expected_slowdown = exact_steps(1024) * exact_step_s(1024) / *r.predicted_seconds_to_target;
  CHECK(*r.max_fit_slowdown == Approx(expected_slowdown).epsilon(0.03));
  CHECK(r.accumulation_steps == 1);
  CHECK(r.reasons.size() >= 2);
  CHECK(r.confidence == "high");
}

TEST_CASE("each objective picks what it names", "[reports][recommend]") {
  const SweepResult sweep = exact_sweep({16, 64, 256, 1024}, 600000);
  RecommendSettings s;
  s.objective = "throughput";
  CHECK(recommend_at_1024(sweep, s).batch_size == 1024);  // B / (t0 + cB) grows with B
  s.objective = "sample-efficiency";
  CHECK(recommend_at_1024(sweep, s).batch_size == 16);    // E(B) = S_min (B + Bc) grows with B
  s.objective = "max-fit";
  CHECK(recommend_at_1024(sweep, s).batch_size == 1024);
  s.objective = "fastest";
  CHECK_THROWS_WITH(recommend_at_1024(sweep, s), Catch::Contains("--objective fastest"));
}

TEST_CASE("a sweep where few sizes reach the target still recommends, with low confidence", "[reports][recommend]") {
  // Only 16 crosses within 80000 samples (S(16) = 3950 steps; S(256) = 434 > 312 run):
  // no S(B) fit, the measured best is taken.
  const SweepResult sweep = exact_sweep({16, 256, 1024}, 80000);
  const Recommendation r = recommend_at_1024(sweep);
  CHECK_FALSE(r.steps_fit.has_value());
  CHECK(r.batch_size == 16);
  CHECK(r.confidence == "low");
  CHECK_THAT(r.reasons.front(), Catch::Contains("soonest in the sweep"));
}

TEST_CASE("an effective batch above the safe maximum becomes micro-batches with accumulation", "[reports][recommend]") {
  const SweepResult sweep = exact_sweep({16, 64, 256, 1024}, 600000);
  RecommendSettings s;
  s.effective_batch = 4096;
  const Recommendation r = recommend_at_1024(sweep, s);
  // Throughput B / (t0 + cB) is highest at the safe maximum: 1024 x 4.
  CHECK(r.micro_batch_size == 1024);
  CHECK(r.accumulation_steps == 4);
  CHECK(r.batch_size == 4096);
  CHECK(r.learning_rate == Approx(0.1 * 4096 / 64));  // the rule applies to the effective batch
  REQUIRE(r.predicted_seconds_to_target.has_value());
  CHECK(*r.predicted_seconds_to_target == Approx(exact_steps(4096) * 4 * exact_step_s(1024)).epsilon(0.01));
  // Slower than the time-to-target choice, and the reasons say by how much.
  const Recommendation best = recommend_at_1024(sweep);
  CHECK(*r.predicted_seconds_to_target > *best.predicted_seconds_to_target);
  CHECK_THAT(r.reasons.front(), Catch::Contains("1024 x 4 accumulated") && Catch::Contains("the time-to-target choice"));

  SECTION("an effective batch that fits runs directly") {
    s.effective_batch = 100;
    const Recommendation direct = recommend_at_1024(sweep, s);
    CHECK(direct.batch_size == 100);
    CHECK(direct.accumulation_steps == 1);
    REQUIRE(direct.predicted_seconds_to_target.has_value());
    CHECK(*direct.predicted_seconds_to_target == Approx(exact_steps(100) * exact_step_s(100)).epsilon(0.05));
  }
}
