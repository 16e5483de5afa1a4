// The whole-run tune against a known answer: branched arms on a noisy
// quadratic (tests/plan/nqm.hpp), whose expected loss under SGD is exact,
// with an injected step time t(B) = t0 + c B. The tune sees only noisy
// samples; the answer is computed from the closed form.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "reports/run_analysis/predict_run.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"
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

TEST_CASE("branched tune: an arm's momentum lag after the branch is not taken for the batch size's cost",
          "[branched][momentum]") {
  // No gradient noise and small rates: every size at the linear rule makes
  // the same progress per sample (perfect scaling, ratio 1). SGD's buffer is
  // scaled by the trunk's rate over the arm's at the branch and refills over
  // 1 / (1 - mu) = 10 steps, which a short arm at 8x the trunk's rate spends
  // most of its steps in: counted as the size's, that lag reads as a ratio
  // well above 1.
  NqmSpec spec;
  spec.sigma = 0.0;
  spec.min_curvature = 0.002;
  spec.max_curvature = 0.01;
  const std::int64_t run_samples = 64 * 3000;
  plan::BranchedSettings s = settings_for(run_samples, 3, 0.0, 0.01);
  s.branch_sizes = {64, 128, 256, 512};
  s.candidate_sizes = s.branch_sizes;
  NqmTrainer trainer(spec);
  trainer.momentum = 0.9;
  const auto result = plan::run_branched(trainer, s);
  REQUIRE(result.end == plan::BranchedEnd::complete);
  WholeRun w = result.whole_run;
  auto ratios_at = [](const WholeRun& run, std::int64_t batch) {
    std::vector<double> r;
    for (const auto& p : run.branch_points) {
      for (const auto& a : p.arms) {
        if (a.batch_size == batch && a.samples_ratio && a.lr_factor == 1.0) r.push_back(*a.samples_ratio);
      }
    }
    return r;
  };
  const auto corrected = ratios_at(w, 512);
  REQUIRE(corrected.size() == w.branch_points.size());
  for (const auto& p : w.branch_points) {
    for (const auto& a : p.arms) {
      if (a.from_trunk) continue;  // the base batch's: the trunk ran it, nothing scaled
      REQUIRE(a.momentum.has_value());
      CHECK(*a.momentum == Approx(0.9));
    }
  }
  // At the first point, read against the trunk's measured curve, every size
  // comes out at 1. (Later points are read against the power law carried
  // past the trunk's half, whose fit to a sum of exponentials adds an error
  // of its own; the lag's share is checked there below.)
  for (const auto& a : w.branch_points.front().arms) {
    INFO("batch " << a.batch_size << ", " << a.steps << " steps, momentum lag "
                  << momentum_lag_steps(a, arm_average_start(a.steps), a.steps) << " steps");
    CHECK(a.samples_ratio.value_or(0.0) == Approx(1.0).margin(0.05));
  }
  // The same arms with the lag left in.
  for (auto& p : w.branch_points) {
    for (auto& a : p.arms) {
      a.momentum.reset();
      a.momentum_rescale.reset();
    }
  }
  analyse_whole_run(w, s.candidate_sizes);
  const auto uncorrected = ratios_at(w, 512);
  REQUIRE(uncorrected.size() == corrected.size());
  for (std::size_t i = 0; i < uncorrected.size(); ++i) {
    CHECK(uncorrected[i] > 1.5);
    CHECK(std::abs(corrected[i] - 1.0) < 0.4 * std::abs(uncorrected[i] - 1.0));
  }
}

TEST_CASE("branched tune: the momentum lag in closed form", "[branched][momentum]") {
  BranchArm a;
  a.batch_size = 512;
  a.steps = 9;
  CHECK(momentum_lag_steps(a, 9, 9) == 0.0);  // nothing scaled
  a.momentum = 0.9;
  a.momentum_rescale = 1.0;
  CHECK(momentum_lag_steps(a, 1, 9) == 0.0);  // scaled by 1: the base batch's arm
  a.momentum_rescale = 1.0 / 8.0;
  // By step 9: (1 - 1/8) * 0.9 * (1 - 0.9^9) / (1 - 0.9) = 4.825 steps.
  CHECK(momentum_lag_steps(a, 9, 9) == Approx(0.875 * 9.0 * (1.0 - std::pow(0.9, 9))).epsilon(1e-9));
  // Over steps 4..9 (an average over them) the lag is smaller than at 9.
  CHECK(momentum_lag_steps(a, 4, 9) < momentum_lag_steps(a, 9, 9));
  CHECK(momentum_lag_steps(a, 4, 9) > momentum_lag_steps(a, 4, 4));
}

TEST_CASE("branched tune: the trunk stands in for the base batch's arms, which would repeat it",
          "[branched]") {
  NqmSpec spec;
  const std::int64_t run_samples = 64 * 3000;
  plan::BranchedSettings s = settings_for(run_samples, 5, 0.0, 0.02);
  s.timing_share = 0.05;  // room for the timing pass on this short run
  NqmTrainer trainer(spec);
  const auto result = plan::run_branched(trainer, s);
  REQUIRE(result.end == plan::BranchedEnd::complete);
  const WholeRun& w = result.whole_run;
  std::int64_t arm_samples = 0;
  REQUIRE_FALSE(w.branch_points.empty());
  for (const auto& p : w.branch_points) {
    const BranchArm* base = nullptr;
    for (const auto& a : p.arms) {
      if (a.batch_size == s.base_batch) base = &a;
      if (!a.from_trunk) arm_samples += a.samples;
    }
    REQUIRE(base != nullptr);
    CHECK(base->from_trunk);
    REQUIRE(base->end_loss.has_value());
    REQUIRE(base->averaged_loss.has_value());
    // The same steps run by hand from a fresh trainer: the quadratic's noise
    // stream is the trunk's (its noise-scale pairs draw from a copy), so the
    // trunk's window is exactly the arm the snapshot would have run.
    NqmTrainer again(spec);
    again.reset(s.seed);
    const std::int64_t k0 = base->steps, from = p.trunk_step;
    for (std::int64_t k = 1; k <= from + k0; ++k) {
      again.step(s.base_batch, s.base_learning_rate);
      if (k == from + arm_average_start(k0)) REQUIRE(again.begin_average());
    }
    CHECK(base->end_loss.value() == Approx(again.evaluate().loss).epsilon(1e-12));
    CHECK(base->averaged_loss.value() == Approx(again.evaluate_average()->loss).epsilon(1e-12));
    CHECK(base->samples_ratio.value_or(0.0) == Approx(1.0));
  }
  // Its samples are the trunk's: the tune counts the trunk, the other arms
  // and the timing pass.
  CHECK(w.timing_samples > 0);
  CHECK(w.tune_samples == w.trunk_samples + arm_samples + w.timing_samples);
}

namespace {

// The quadratic on a machine whose load comes and goes: every step's time
// is multiplied by `load(step index)`, the steps counted from reset.
class LoadedTrainer final : public plan::Trainer {
 public:
  LoadedTrainer(NqmSpec spec, std::function<double(std::int64_t, double)> load) : inner_(spec), load_(std::move(load)) {}
  void reset(std::uint64_t seed) override {
    inner_.reset(seed);
    steps_ = 0;
  }
  plan::StepOutcome step(std::int64_t batch, double lr) override {
    plan::StepOutcome o = inner_.step(batch, lr);
    o.seconds *= load_(steps_++, lr);
    return o;
  }
  plan::EvalOutcome evaluate() override { return inner_.evaluate(); }
  int save() override { return inner_.save(); }
  void restore(int snapshot) override { inner_.restore(snapshot); }
  std::optional<double> rescale_momentum(double factor) override { return inner_.rescale_momentum(factor); }
  bool begin_average(int slot) override { return inner_.begin_average(slot); }
  std::optional<plan::EvalOutcome> evaluate_average(int slot) override { return inner_.evaluate_average(slot); }
  std::optional<plan::GradientNorms> gradient_norms(std::int64_t small, std::int64_t large) override {
    return inner_.gradient_norms(small, large);
  }
  std::int64_t steps() const { return steps_; }

 private:
  NqmTrainer inner_;
  std::function<double(std::int64_t, double)> load_;
  std::int64_t steps_ = 0;
};

}  // namespace

TEST_CASE("branched tune: a load that comes and goes moves no size's step time against another's", "[branched]") {
  NqmSpec spec;
  const std::int64_t run_samples = 64 * 3000;
  plan::BranchedSettings s = settings_for(run_samples, 3, 0.0, 0.02);
  s.timing_share = 0.05;  // room for the timing pass on this short run
  s.timing_share_loaded = 0.05;
  const std::int64_t trunk_steps = plan::trunk_steps_of(s);
  // A build beside the tune: every trunk step 20x slower, the arms quiet.
  LoadedTrainer burst(spec, [&](std::int64_t k, double) { return k < trunk_steps ? 20.0 : 1.0; });
  const auto loaded = plan::run_branched(burst, s);
  REQUIRE(loaded.end == plan::BranchedEnd::complete);
  LoadedTrainer quiet(spec, [](std::int64_t, double) { return 1.0; });
  const auto clean = plan::run_branched(quiet, s);
  REQUIRE(clean.end == plan::BranchedEnd::complete);
  const auto& w = loaded.whole_run;
  REQUIRE(w.timing_samples > 0);
  CHECK(w.step_times_source.find("interleaved") != std::string::npos);
  CHECK(w.timing_samples <= static_cast<std::int64_t>(s.timing_share * double(run_samples)));
  // Every size the arms ran is timed as on a quiet machine: the base
  // batch's trunk median (20x) no longer stands.
  REQUIRE(w.step_seconds.size() == clean.whole_run.step_seconds.size());
  for (const auto& [b, t] : w.step_seconds) {
    INFO("batch " << b);
    CHECK(t == Approx(spec.step_time(double(b))).epsilon(1e-9));
  }
  REQUIRE(w.best_batch.has_value());
  CHECK(w.best_batch == clean.whole_run.best_batch);

  // A steady load through the whole tune, and a burst on the timing pass's
  // first steps (the first round's smallest size): every size is slowed
  // alike and the fastest round drops the burst, so the pick stands.
  int pass_steps = 0;
  LoadedTrainer busy(spec, [&](std::int64_t, double lr) { return lr == 0.0 && pass_steps++ < 3 ? 60.0 : 3.0; });
  const auto slow = plan::run_branched(busy, s);
  REQUIRE(slow.end == plan::BranchedEnd::complete);
  REQUIRE(pass_steps > 3);
  for (const auto& [b, t] : slow.whole_run.step_seconds) {
    INFO("batch " << b);
    CHECK(t == Approx(3.0 * spec.step_time(double(b))).epsilon(1e-9));
  }
  CHECK(slow.whole_run.best_batch == clean.whole_run.best_batch);
}

TEST_CASE("branched tune: the finalists' rates run at the last point within the budget, and a better one is taken",
          "[branched][rate]") {
  NqmSpec spec;
  const std::int64_t run_samples = 64 * 3000;
  // The user's base rate is an eighth of the best: twice the rule's rate
  // beats the rule's at every size, far beyond the noise.
  const double base_lr = tuned_base_lr(spec, run_samples) / 8.0;
  plan::BranchedSettings s = settings_for(run_samples, 3, 0.0, base_lr);
  NqmTrainer trainer(spec);
  const auto result = plan::run_branched(trainer, s);
  REQUIRE(result.end == plan::BranchedEnd::complete);
  const WholeRun& w = result.whole_run;
  REQUIRE(w.branch_points.size() >= 2);
  std::set<std::int64_t> finalists;
  for (std::size_t p = 0; p < w.branch_points.size(); ++p) {
    for (const auto& a : w.branch_points[p].arms) {
      if (a.lr_factor == 1.0) continue;
      CHECK(p + 1 == w.branch_points.size());  // the last point only
      CHECK((a.lr_factor == 0.5 || a.lr_factor == 2.0));
      finalists.insert(a.batch_size);
    }
  }
  CHECK(finalists.size() >= 1);
  CHECK(finalists.size() <= 2);
  // Within --tune-share (the timing pass is on top of it).
  CHECK(double(w.tune_samples - w.timing_samples) <= s.budget_share * double(run_samples) + 1e-9);
  REQUIRE(w.best_batch.has_value());
  const auto pick = std::find_if(w.predictions.begin(), w.predictions.end(),
                                 [&](const RunPrediction& q) { return q.batch_size == *w.best_batch; });
  REQUIRE(pick != w.predictions.end());
  if (finalists.count(*w.best_batch)) {
    CHECK(pick->lr_factor == 2.0);
    CHECK(pick->rate_gain.has_value());
  }
  // None with --lr-finalists 0.
  s.rate_finalists = 0;
  NqmTrainer plain(spec);
  const auto none = plan::run_branched(plain, s);
  REQUIRE(none.end == plan::BranchedEnd::complete);
  for (const auto& p : none.whole_run.branch_points) {
    for (const auto& a : p.arms) CHECK(a.lr_factor == 1.0);
  }
}

TEST_CASE("branched tune: the timing pass's ratios are levelled to the trunk's mean step, unless load came between",
          "[branched]") {
  NqmSpec spec;
  const std::int64_t run_samples = 64 * 3000;
  plan::BranchedSettings s = settings_for(run_samples, 3, 0.0, 0.02);
  s.timing_share = 0.05;
  s.timing_share_loaded = 0.05;
  // Every training step costs 1.2x what the pass's short blocks read (a run's
  // stalls, which the fastest block leaves out): the level is 1.2.
  LoadedTrainer stalls(spec, [](std::int64_t, double lr) { return lr == 0.0 ? 1.0 : 1.2; });
  const auto levelled = plan::run_branched(stalls, s);
  REQUIRE(levelled.end == plan::BranchedEnd::complete);
  CHECK_THAT(levelled.whole_run.step_times_source, Catch::Contains("levelled to the trunk's mean step at batch 64 (x1.20)"));
  for (const auto& [b, t] : levelled.whole_run.step_seconds) {
    INFO("batch " << b);
    CHECK(t == Approx(1.2 * spec.step_time(double(b))).epsilon(1e-9));
  }
  // A trunk 3x slower than the pass saw another load: the pass stands alone.
  LoadedTrainer trunk_busy(spec, [](std::int64_t, double lr) { return lr == 0.0 ? 1.0 : 3.0; });
  const auto alone = plan::run_branched(trunk_busy, s);
  REQUIRE(alone.end == plan::BranchedEnd::complete);
  CHECK_THAT(alone.whole_run.step_times_source, Catch::Contains("not levelled"));
  for (const auto& [b, t] : alone.whole_run.step_seconds) {
    INFO("batch " << b);
    CHECK(t == Approx(spec.step_time(double(b))).epsilon(1e-9));
  }
}
