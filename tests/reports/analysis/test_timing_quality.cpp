// The step clock (statistics.hpp) and the timing verdict (timing_quality.hpp):
// one step time everywhere, the mean, and a report that says when the
// conditions made it a poor measure of the machine.
#include "tests/support/catch.hpp"

#include <map>
#include <sstream>

#include "reports/render/render_sweep.hpp"
#include "reports/model/machine_info.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/render/render_text.hpp"
#include "reports/util/statistics.hpp"
#include "reports/model/sweep_report.hpp"
#include "reports/analysis/timing_quality.hpp"

using namespace batchtune;

namespace {

// Sizes 32, 64 and 128 reach the target 1.0 in S(B) = 150 (1 + 80/B) steps
// (525, 337.5, 243.75); each step takes t(B) = 1.5, 2 and 3 ms, except that
// the arms at `stalled` stall: every fourth step 9x as long (the mean 3x the
// median). Evaluations carry the arm's own running seconds. Clean, 64 is
// fastest to the target: 0.675 s against 0.79 s (32) and 0.73 s (128).
SweepResult sweep_with_stalls(std::int64_t stalled) {
  SweepResult s;
  s.budget_kind = BudgetKind::samples;
  s.budget_value = 128 * 300;
  s.lr_scaling = LrScaling::none;
  s.base_batch = 32;
  s.base_learning_rate = 0.1;
  s.seeds = 2;
  s.target_loss = 1.0;
  for (std::int64_t b : {32, 64, 128}) {
    const double cross = 150.0 * (1.0 + 80.0 / double(b));
    const double t = 1e-3 * (1.0 + double(b) / 64.0);  // 1.5, 2, 3 ms
    for (std::uint64_t seed : {0, 1}) {
      SweepArm a;
      a.batch_size = b;
      a.seed = seed;
      a.learning_rate = 0.1;
      a.steps = static_cast<std::int64_t>(s.budget_value) / b;
      a.samples = a.steps * b;
      double clock = 0;
      for (std::int64_t i = 0; i < a.steps; ++i) {
        const double step = b == stalled && i % 4 == 3 ? 9 * t : t;
        a.compute_seconds.push_back(step);
        a.data_seconds.push_back(0);
        clock += step;
        const double loss = 2.0 - double(i + 1) / cross;
        if ((i + 1) % 10 == 0) a.evaluations.push_back(EvalPoint{i + 1, (i + 1) * b, clock, loss, std::nullopt});
      }
      const auto times = step_times_of(step_total_seconds(a));
      a.mean_step_seconds = times->mean_s;
      a.median_step_seconds = times->median_s;
      a.samples_per_s = double(b) / times->mean_s;
      a.final_validation_loss = a.evaluations.back().loss;
      s.arms.push_back(a);
    }
  }
  s.timing_conditions = TimingConditions{1, 2, 0.05};
  summarise_sweep(s);
  return s;
}

Recommendation recommend_for(const SweepResult& s) {
  ProbeResult probe;
  probe.safe_max_batch = 128;
  probe.largest_fitting_batch = 140;
  WorkloadInfo w;
  w.optimizer = "sgd";
  NoiseScale noise;
  noise.status = NoiseScaleStatus::not_measured;
  return recommend(s, &probe, w, noise, {});
}

}  // namespace

TEST_CASE("the step clock is the mean step, with the median and percentiles beside it", "[reports][statistics]") {
  const auto t = step_times_of({1, 1, 1, 1, 6});
  REQUIRE(t.has_value());
  CHECK(t->mean_s == Approx(2.0));
  CHECK(t->median_s == Approx(1.0));
  CHECK(t->p90_s == Approx(4.0));
  CHECK(t->steps == 5);
  CHECK_FALSE(step_times_of({}).has_value());
  CHECK(block_means({1, 3, 1, 3, 5, 7, 5, 7}, 4) == std::vector<double>{2, 6});
  SweepArm old;  // a report written before mean_step_seconds: read off the raw steps
  old.compute_seconds = {1, 1, 4};
  old.data_seconds = {0, 0, 0};
  CHECK(*step_clock_seconds(old) == Approx(2.0));
}

TEST_CASE("a size whose steps stall is ranked by what its run takes, and the table and the pick agree",
          "[reports][recommend][timing]") {
  // Stall 64, the clean winner: its median step still says 0.675 s to the
  // target; its runs took 3x that.
  const SweepResult clean = sweep_with_stalls(0);
  const Recommendation before = recommend_for(clean);
  REQUIRE(before.batch_size.has_value());
  CHECK(*before.batch_size >= 64);  // near 64: between the swept sizes the fit may place it
  CHECK(*before.batch_size < 128);
  CHECK(timing_quality(clean).heavy_tails.empty());
  for (const auto& reason : before.reasons) CHECK(reason.find("Timing unreliable") == std::string::npos);

  const SweepResult stalled = sweep_with_stalls(64);
  const Recommendation r = recommend_for(stalled);
  REQUIRE(r.batch_size.has_value());
  CHECK(*r.batch_size == 128);  // the median would have kept 64's neighbourhood
  // The measured time to target at the pick and the prediction agree (one clock).
  const BatchSummary* at = nullptr;
  for (const auto& b : stalled.summaries) if (b.batch_size == *r.batch_size) at = &b;
  REQUIRE(at);
  REQUIRE(at->seconds_to_target);
  REQUIRE(r.predicted_seconds_to_target);
  CHECK(*r.predicted_seconds_to_target == Approx(at->seconds_to_target->mean).epsilon(0.1));
  // ... and the pick's measured time beats 64's measured time, as the table shows.
  for (const auto& b : stalled.summaries) {
    if (b.batch_size == 64) CHECK(b.seconds_to_target->mean > at->seconds_to_target->mean);
  }

  const TimingQuality q = timing_quality(stalled);
  REQUIRE(q.heavy_tails.size() == 1);
  CHECK(q.heavy_tails[0].batch_size == 64);
  CHECK(q.heavy_tails[0].mean_over_median == Approx(3.0).epsilon(0.05));
  CHECK_FALSE(q.loaded());
  bool named = false;
  for (const auto& reason : r.reasons) {
    named = named || (reason.find("Timing unreliable: the step times have a heavy tail at batch 64") == 0 &&
                      reason.find("3.0x the median") != std::string::npos);
  }
  CHECK(named);
  CHECK(r.confidence != Confidence::high);
  bool noted = false;
  for (const auto& n : r.confidence_notes) noted = noted || n.find("timing unreliable: heavy tail at 64") == 0;
  CHECK(noted);

  std::ostringstream text;
  render_sweep_text(text, stalled);
  CHECK_THAT(text.str(), Catch::Contains("step time             mean (every figure's clock; median in brackets): ") &&
                             Catch::Contains("64 6 ms (2)") && Catch::Contains("  Timing unreliable: "));
}

TEST_CASE("the timing verdict names its cause: a loaded machine, a thread pool on every core, or stalls",
          "[reports][timing]") {
  SweepResult loaded = sweep_with_stalls(0);
  loaded.timing_conditions = TimingConditions{1, 2, 1.2};
  TimingQuality q = timing_quality(loaded);
  CHECK(q.loaded());
  CHECK(q.unreliable());
  CHECK_THAT(describe(q), Catch::Contains("other processes used 1.2 of 2 cores") &&
                              Catch::Contains("rerun on a quiet machine"));
  CHECK(short_description(q) == "loaded (1.2 cores busy)");

  // Just under the line: not loaded.
  loaded.timing_conditions->other_cpu_cores = kLoadedMachineCores - 0.01;
  CHECK_FALSE(timing_quality(loaded).unreliable());
  CHECK(describe(timing_quality(loaded)).empty());

  SweepResult pool = sweep_with_stalls(128);
  pool.timing_conditions = TimingConditions{2, 2, 0.1};
  CHECK_THAT(describe(timing_quality(pool)), Catch::Contains("a 2-thread pool on 2 cores stalls") &&
                                                 Catch::Contains("--threads 1"));
  pool.timing_conditions = TimingConditions{1, 2, 0.1};
  CHECK_THAT(describe(timing_quality(pool)), Catch::Contains("the steps stall now and then"));

  // A report written before the conditions were recorded: tails only.
  pool.timing_conditions.reset();
  CHECK(timing_quality(pool).heavy_tails.size() == 1);
  CHECK_FALSE(timing_quality(pool).other_cpu_cores.has_value());
}
