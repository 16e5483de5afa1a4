// The whole-run tune against a known answer: branched arms on a noisy
// quadratic (tests/plan/nqm.hpp), whose expected loss under SGD is exact,
// with an injected step time t(B) = t0 + c B. The tune sees only noisy
// samples; the answer is computed from the closed form.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <iostream>
#include <sstream>

#include "reports/predict_run.hpp"
#include "reports/recommend.hpp"
#include "reports/statistics.hpp"
#include "tests/plan/nqm.hpp"
#include "tests/support/catch.hpp"
#include "tuner/plan/branched.hpp"

using namespace batchtune;
using batchtune::testing::NqmExpected;
using batchtune::testing::NqmSpec;
using batchtune::testing::NqmTrainer;

namespace {

const std::vector<std::int64_t> kCandidates{16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

// The base batch's learning rate as a user would have tuned it: the best
// constant rate at batch 64 for the planned run (on a grid of 2^(1/4) steps).
double tuned_base_lr(const NqmSpec& spec, std::int64_t run_samples) {
  const NqmExpected expected(spec);
  double best_lr = 0, best = std::numeric_limits<double>::infinity();
  for (int k = -24; k <= 8; ++k) {
    const double lr = 0.05 * std::pow(2.0, k / 4.0);
    const double l = expected.loss_after(run_samples / 64, 64, lr);
    if (l < best) {
      best = l;
      best_lr = lr;
    }
  }
  return best_lr;
}

plan::BranchedSettings settings_for(std::int64_t run_samples, std::uint64_t seed, double target_loss, double base_lr) {
  plan::BranchedSettings s;
  s.run.train_samples = run_samples;
  s.run.source = "--train-samples " + std::to_string(run_samples);
  // The default target: the base batch's loss after the planned run (the
  // tune finds it on its own trunk; `target_loss` is the analytic one).
  (void)target_loss;
  s.base_batch = 64;
  s.base_learning_rate = base_lr;
  s.lr_scaling = LrScaling::linear;
  s.branch_sizes = kCandidates;
  s.candidate_sizes = kCandidates;
  s.lr_grid = 0;
  s.warmup_share = 0;
  s.seed = seed;
  return s;
}

// The analytic time to the target at each size: the best over the same
// learning rates the tune may choose (the rule's, times 2^-K .. 2^K).
std::map<std::int64_t, double> analytic_seconds(const NqmSpec& spec, const plan::BranchedSettings& s) {
  const NqmExpected expected(spec);
  std::map<std::int64_t, double> out;
  for (std::int64_t b : s.candidate_sizes) {
    double best = std::numeric_limits<double>::infinity();
    for (int j = -s.lr_grid; j <= s.lr_grid; ++j) {
      const double lr = scaled_learning_rate(s.lr_scaling, s.base_learning_rate, s.base_batch, b) * std::pow(2.0, j);
      if (const auto steps = expected.steps_to(*s.run.target_loss, b, lr)) {
        best = std::min(best, *steps * spec.step_time(double(b)));
      }
    }
    out[b] = best;
  }
  return out;
}

std::int64_t argmin(const std::map<std::int64_t, double>& t) {
  return std::min_element(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.second < b.second; })->first;
}

}  // namespace

TEST_CASE("branched tune: recommends within a power of two of the analytic optimum on a noisy quadratic",
          "[branched][known-answer]") {
  NqmSpec spec;
  const std::int64_t run_samples = 64 * 6000;
  // The target: where the base batch's expected loss is after the planned run.
  const NqmExpected expected(spec);
  const double base_lr = tuned_base_lr(spec, run_samples);
  const double target = expected.loss_after(run_samples / 64, 64, base_lr);
  auto probe = settings_for(run_samples, 0, target, base_lr);
  probe.run.target_loss = target;
  const auto truth = analytic_seconds(spec, probe);
  const std::int64_t optimum = argmin(truth);
  INFO("analytic optimum " << optimum << " at target loss " << target);

  int within = 0;
  std::vector<double> errors;
  std::ostringstream log;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    NqmTrainer trainer(spec);
    const auto s = settings_for(run_samples, seed, target, base_lr);
    const auto result = plan::run_branched(trainer, s);
    REQUIRE(result.end == plan::BranchedEnd::complete);
    const WholeRun& w = result.whole_run;
    REQUIRE(w.best_batch.has_value());
    // The simple noise scale along the trunk grows as the loss falls, as the
    // quadratic's closed form says it must (|H theta|^2 shrinks, the noise does not).
    REQUIRE(w.trunk_noise.size() >= 4);
    REQUIRE(w.trunk_noise.front().simple_noise_scale.has_value());
    REQUIRE(w.trunk_noise.back().simple_noise_scale.has_value());
    CHECK(*w.trunk_noise.back().simple_noise_scale > 3.0 * *w.trunk_noise.front().simple_noise_scale);
    const double octaves = std::abs(std::log2(double(*w.best_batch) / double(optimum)));
    if (octaves <= 1.0 + 1e-9) ++within;
    std::vector<double> seed_errors;
    for (const auto& p : w.predictions) {
      const double t = truth.at(p.batch_size);
      if (std::isfinite(t)) seed_errors.push_back(std::abs(p.seconds - t) / t);
    }
    const double median_error = median_of(seed_errors).value_or(1e9);
    errors.push_back(median_error);
    log << "seed " << seed << ": best " << *w.best_batch << ", B_crit";
    for (const auto& bp : w.branch_points) {
      log << ' ' << (bp.critical_batch ? *bp.critical_batch : -1.0) << "@" << bp.loss;
    }
    log << ", median time error " << median_error << "\n";
  }
  INFO(log.str());
  CHECK(within >= 9);
  CHECK(median_of(errors).value_or(1e9) <= 0.20);
}

TEST_CASE("branched tune: diagnostics", "[.diag]") {
  NqmSpec spec;
  const std::int64_t run_samples = 64 * 6000;
  const NqmExpected expected(spec);
  const double base_lr = tuned_base_lr(spec, run_samples);
  const double target = expected.loss_after(run_samples / 64, 64, base_lr);
  std::printf("base lr %.4g, target %.5g\n", base_lr, target);
  auto s = settings_for(run_samples, 1, target, base_lr);
  auto with_target = s;
  with_target.run.target_loss = target;
  const auto truth = analytic_seconds(spec, with_target);
  for (const auto& [b, t] : truth) std::printf("truth %lld: %.3f s\n", (long long)b, t);
  NqmTrainer trainer(spec);
  s.progress = &std::cout;
  const auto result = plan::run_branched(trainer, s);
  std::cout << nlohmann::json(result.whole_run).dump(1) << "\n";
  render_whole_run_text(std::cout, result.whole_run);
}
