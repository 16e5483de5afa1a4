#include "tests/support/catch.hpp"

#include <sstream>

#include "reports/tools/check.hpp"
#include "reports/tools/compare.hpp"
#include "reports/util/error.hpp"
#include "reports/analysis/recommend.hpp"
#include "tests/reports/report_fixtures.hpp"

using namespace batchtune;
using batchtune::testing::synthetic_report;

TEST_CASE("compare matches batch sizes, gives ratios and says what is noise", "[reports][compare]") {
  // 200 timed steps per size: 25 repetitions (blocks of 8 steps) a side.
  const Report base = synthetic_report("a.json", 1e-4, 4000, 1, 200);
  const Report faster = synthetic_report("b.json", 0.5e-4, 2000, 2, 200);  // twice the throughput, half the memory
  const Report same = synthetic_report("c.json", 1e-4, 4000, 3, 200);      // the same machine again
  const Comparison c = compare_reports({base, faster, same}, {});
  REQUIRE(c.batches.size() == 3);
  for (const auto& row : c.batches) {
    REQUIRE(row.cells.size() == 3);
    CHECK(row.cells[0].verdict == CompareVerdict::baseline);
    CHECK(row.cells[0].repetitions == 25);
    CHECK(row.cells[1].verdict == CompareVerdict::faster);
    CHECK(*row.cells[1].throughput_ratio == Approx(2.0).epsilon(0.03));
    CHECK(*row.cells[1].p_value < 0.001);
    CHECK_FALSE(row.cells[1].unreliable);
    CHECK(row.cells[2].verdict == CompareVerdict::within_noise);
    CHECK(*row.cells[2].throughput_ratio == Approx(1.0).epsilon(0.03));
  }
  CHECK(c.warnings.empty());
  CHECK(*c.reports[1].largest_fitting_ratio == Approx(0.5));
  // No machine in the context: labels fall back to the file names.
  CHECK(c.reports[0].label == "a");

  std::ostringstream text, md;
  render_comparison_text(text, c);
  render_comparison_markdown(md, c);
  CHECK_THAT(text.str(), Catch::Contains("faster") && Catch::Contains("within noise") && Catch::Contains("2.00x") &&
                             Catch::Contains("25 reps") && Catch::Contains("block means"));
  CHECK_THAT(md.str(), Catch::Contains("| 64 |"));
  const auto j = comparison_to_json(c);
  CHECK(j.at("batch_sizes").size() == 3);
  CHECK(j.at("batch_sizes")[0].at("reports")[1].at("verdict") == "faster");
  CHECK(j.at("batch_sizes")[0].at("reports")[1].at("repetitions") == 25);
  CHECK(j.at("steps_per_repetition") == 8);
}

TEST_CASE("compare sets throughput-only reports beside each other and beside a sweep, as untested ratios",
          "[reports][compare]") {
  const Report sweep = synthetic_report("a.json", 1e-4, 4000, 1, 200);
  // A throughput-only report of the same workload: its scan, no arms.
  auto scan_only = [&](const std::string& path, double step_s) {
    Report r = sweep;
    r.path = path;
    SweepResult s;
    for (std::int64_t b : {16, 64, 256, 1024}) {
      s.throughput_scan.push_back(ScanPoint{b, step_s * double(b), step_s * double(b), 1.0 / step_s, 1 << 20, 30});
    }
    r.sweep = s;
    r.recommendation.reset();
    return r;
  };
  const Report slow = scan_only("slow.json", 1e-4), quick = scan_only("quick.json", 0.25e-4);
  const Comparison c = compare_reports({slow, quick}, {});
  REQUIRE(c.batches.size() == 4);
  for (const auto& row : c.batches) {
    CHECK(row.cells[0].verdict == CompareVerdict::baseline);
    CHECK(row.cells[1].verdict == CompareVerdict::untested);
    REQUIRE(row.cells[1].throughput_ratio.has_value());
    CHECK(*row.cells[1].throughput_ratio == Approx(4.0));
    CHECK_FALSE(row.cells[1].p_value.has_value());
  }
  std::ostringstream text;
  render_comparison_text(text, c);
  CHECK_THAT(text.str(), Catch::Contains("4.00x, untested (scan)") && Catch::Contains("none measured"));
  // Beside a sweep: the sizes both have get a ratio; the scan's own sizes stand alone.
  const Comparison mixed = compare_reports({sweep, quick}, {});
  bool any_ratio = false;
  for (const auto& row : mixed.batches) {
    if (row.batch_size == 1024) CHECK(row.cells[1].verdict == CompareVerdict::not_in_baseline);
    if (row.cells[0].verdict == CompareVerdict::baseline && row.cells[1].throughput_ratio) {
      any_ratio = true;
      CHECK(row.cells[1].verdict == CompareVerdict::untested);
    }
  }
  CHECK(any_ratio);
}

TEST_CASE("compare tests block means, not correlated single steps, and warns when they are few",
          "[reports][compare]") {
  // 40 steps a side, twice as fast and never overlapping: on raw steps the U
  // test would claim p ~ 1e-14; as 5 blocks a side it is p ~ 0.01, and the
  // verdict is flagged as resting on fewer than 9 repetitions.
  const Report base = synthetic_report("a.json", 1e-4, 4000, 1, 40);
  const Report faster = synthetic_report("b.json", 0.5e-4, 4000, 2, 40);
  const Comparison c = compare_reports({base, faster}, {});
  for (const auto& row : c.batches) {
    CHECK(row.cells[1].repetitions == 5);
    REQUIRE(row.cells[1].p_value.has_value());
    CHECK(*row.cells[1].p_value > 0.005);
    CHECK(*row.cells[1].p_value < 0.05);
    CHECK(row.cells[1].verdict == CompareVerdict::faster);
    CHECK(row.cells[1].unreliable);
  }
  REQUIRE(c.warnings.size() == 1);
  CHECK_THAT(c.warnings[0], Catch::Contains("fewer than 9 repetitions") && Catch::Contains("16, 64, 256"));
  std::ostringstream text;
  render_comparison_text(text, c);
  CHECK_THAT(text.str(), Catch::Contains("warning: fewer than 9 repetitions") && Catch::Contains("unreliable"));
  CHECK(comparison_to_json(c).at("warnings").size() == 1);

  SECTION("too few steps for a test at all") {
    const Report tiny = synthetic_report("t.json", 0.5e-4, 4000, 2, 2);
    const Comparison few = compare_reports({base, tiny}, {});
    CHECK(few.batches[0].cells[1].verdict == CompareVerdict::too_few_repetitions);
    CHECK(few.batches[0].cells[1].repetitions == 1);
  }
}

TEST_CASE("the step times compared are data plus compute, as samples/s", "[reports][compare]") {
  SweepResult s;
  SweepArm a;
  a.batch_size = 32;
  a.compute_seconds = {1.0, 1.0, 1.0};
  a.data_seconds = {0.5, 0.25, 0.0};
  s.arms.push_back(a);
  CHECK(step_times_at(s, 32) == std::vector<double>{1.5, 1.25, 1.0});
  CHECK(step_time_repetitions(s, 32) == std::vector<double>{1.25});  // fewer than 8 steps: one block, its mean
  CHECK(step_times_at(s, 64).empty());

  // Compute equal, data waiting doubled: slower, with the data included.
  Report base = synthetic_report("a.json", 1e-4, 4000, 1, 200);
  Report waiting = synthetic_report("b.json", 1e-4, 4000, 1, 200);
  for (auto& arm : waiting.sweep->arms) {
    for (std::size_t i = 0; i < arm.data_seconds.size(); ++i) arm.data_seconds[i] = arm.compute_seconds[i];
  }
  const Comparison c = compare_reports({base, waiting}, {});
  CHECK(c.batches[0].cells[1].verdict == CompareVerdict::slower);
}

TEST_CASE("compare refuses different workloads unless forced, and says why", "[reports][compare]") {
  const Report a = synthetic_report("a.json", 1e-4, 4000);
  Report b = synthetic_report("b.json", 1e-4, 4000);
  b.workload.model = "cnn";
  CHECK_THROWS_WITH(compare_reports({a, b}, {}), Catch::Contains("model: mlp vs cnn") && Catch::Contains("--force"));
  CompareSettings forced;
  forced.force = true;
  const Comparison c = compare_reports({a, b}, forced);
  CHECK(c.workload_differences.size() == 1);
  CHECK_THROWS_AS(compare_reports({a}, {}), UsageError);
  CompareSettings labels;
  labels.labels = {"only one"};
  CHECK_THROWS_WITH(compare_reports({a, a}, labels), Catch::Contains("--label"));
}

TEST_CASE("check holds a report to its conditions, one line per failure", "[reports][check]") {
  const Report base = synthetic_report("base.json", 1e-4, 4000, 1);
  CheckSettings settings;

  SECTION("a report that holds") {
    settings.min_batch = 1000;
    const Report again = synthetic_report("again.json", 1e-4, 4000, 7);
    const CheckOutcome o = check_report(again, &base, settings);
    CHECK(o.failed.empty());
    bool recommended = false;
    for (const auto& line : o.passed) recommended = recommended || line.find("recommended batch size") == 0;
    CHECK(recommended);
  }
  SECTION("a smaller largest fitting batch and a slower step both fail") {
    settings.min_batch = 3000;
    const Report worse = synthetic_report("worse.json", 1.5e-4, 2000, 2);
    const CheckOutcome o = check_report(worse, &base, settings);
    REQUIRE(o.failed.size() == 5);  // --min-batch, the baseline's largest batch, three batch sizes' throughput
    CHECK_THAT(o.failed[0], Catch::Contains("2000 < --min-batch 3000"));
    CHECK_THAT(o.failed[1], Catch::Contains("largest fitting batch 2000 vs baseline 4000"));
    // 40 steps a side are 5 repetitions, and the line says so.
    CHECK_THAT(o.failed[2], Catch::Contains("batch 16: samples/s") && Catch::Contains("U test p") &&
                                Catch::Contains("5 vs 5 repetitions, unreliable"));
    REQUIRE(o.warnings.size() == 1);
    CHECK_THAT(o.warnings[0], Catch::Contains("fewer than 9 repetitions"));
  }
  SECTION("a drop within the allowed regression passes") {
    settings.max_regression = 0.6;
    const Report worse = synthetic_report("worse.json", 1.5e-4, 2000, 2);
    CHECK(check_report(worse, &base, settings).failed.empty());
  }
  SECTION("an incomplete sweep fails") {
    Report cut = synthetic_report("cut.json", 1e-4, 4000);
    cut.sweep->incomplete = true;
    cut.sweep->incomplete_reason = "SIGINT";
    const CheckOutcome o = check_report(cut, nullptr, settings);
    REQUIRE(o.failed.size() == 1);
    CHECK_THAT(o.failed[0], Catch::Contains("incomplete"));
  }
  SECTION("a sweep that recommends no batch size fails, with the reason") {
    Report none = synthetic_report("none.json", 1e-4, 4000);
    none.sweep->target_loss = 0.1;  // below every evaluation: no size reaches it
    summarise_targets(*none.sweep);
    NoiseScale not_measured;
    not_measured.status = NoiseScaleStatus::not_measured;
    none.recommendation = recommend(*none.sweep, &*none.probe, none.workload, not_measured, {});
    REQUIRE_FALSE(none.recommendation->recommends());
    const CheckOutcome o = check_report(none, nullptr, settings);
    REQUIRE(o.failed.size() == 1);
    CHECK_THAT(o.failed[0], Catch::Contains("no recommended batch size (time-to-target): No batch size reached the "
                                            "target validation loss 0.1"));
    none.recommendation.reset();
    REQUIRE(check_report(none, nullptr, settings).failed.size() == 1);
    CHECK_THAT(check_report(none, nullptr, settings).failed[0], Catch::Contains("no recommendation section"));
  }
  SECTION("arms that did not complete are counted by status") {
    Report stopped = synthetic_report("stopped.json", 1e-4, 4000);
    stopped.sweep->arms[2].status = ArmStatus::failed;
    stopped.sweep->arms[1].status = ArmStatus::diverged;
    const CheckOutcome o = check_report(stopped, nullptr, settings);
    bool counted = false;
    for (const auto& line : o.passed) counted = counted || line.find("2 arm(s) did not complete (1 diverged, 1 failed") == 0;
    CHECK(counted);
  }
  SECTION("--min-confidence fails a recommendation below it and says what lowered it") {
    Report r = synthetic_report("conf.json", 1e-4, 4000);
    REQUIRE(r.recommendation);
    r.recommendation->confidence = Confidence::medium;
    r.recommendation->confidence_notes = {"B_crit measured at 2 branch point(s), fewer than 3"};
    settings.min_confidence = Confidence::high;
    CheckOutcome o = check_report(r, nullptr, settings);
    REQUIRE(o.failed.size() == 1);
    CHECK_THAT(o.failed[0], Catch::Contains("confidence medium is below --min-confidence high") &&
                                Catch::Contains("fewer than 3"));
    settings.min_confidence = Confidence::medium;
    CHECK(check_report(r, nullptr, settings).failed.empty());
    settings.min_confidence = Confidence::low;
    CHECK(check_report(r, nullptr, settings).failed.empty());
    r.recommendation->confidence = Confidence::none;
    CHECK(check_report(r, nullptr, settings).failed.size() >= 1);
  }
  SECTION("a baseline of another workload is not comparable") {
    Report other = synthetic_report("other.json", 1e-4, 4000);
    other.workload.optimizer = "adam";
    const CheckOutcome o = check_report(other, &base, settings);
    REQUIRE(o.failed.size() == 1);
    CHECK_THAT(o.failed[0], Catch::Contains("optimizer: sgd vs adam"));
  }
}

TEST_CASE("a throughput drop within noise is reported, not failed", "[reports][check]") {
  const Report base = synthetic_report("base.json", 1e-4, 4000, 1, 40);
  // 3 timed steps per size: too few for the U test to call anything significant.
  const Report slower = synthetic_report("slower.json", 1.5e-4, 4000, 2, 2);
  const CheckOutcome o = check_report(slower, &base, {});
  CHECK(o.failed.empty());
  bool named = false;
  for (const auto& line : o.passed) named = named || line.find("too few repetitions to tell it from noise (1 vs 5") != std::string::npos;
  CHECK(named);
  CHECK_FALSE(o.warnings.empty());
}

TEST_CASE("compare sets a whole-run report's predicted time beside another's measured one", "[reports][compare]") {
  Report predicted = synthetic_report("tune.json", 1e-4, 4000, 1, 40);
  WholeRun w;
  w.target_loss = 0.4;
  for (std::int64_t b : {64, 256, 1024}) {
    RunPrediction p;
    p.batch_size = b;
    p.seconds = 100.0 + double(b);
    w.predictions.push_back(p);
  }
  predicted.whole_run = w;
  const Report measured = synthetic_report("full.json", 1e-4, 4000, 2, 40);
  const Comparison c = compare_reports({predicted, measured}, {});
  // 1024 is predicted only: a row of its own, not run in the measured report.
  REQUIRE(c.batches.size() == 4);
  CHECK(c.reports[0].whole_run);
  CHECK(*c.reports[0].target_loss == Approx(0.4));
  for (const auto& row : c.batches) {
    if (row.batch_size == 16) CHECK_FALSE(row.cells[0].predicted_run_seconds.has_value());
    if (row.batch_size == 256) CHECK(*row.cells[0].predicted_run_seconds == Approx(356.0));
    CHECK_FALSE(row.cells[1].predicted_run_seconds.has_value());
    if (row.batch_size == 1024) CHECK(row.cells[1].verdict == CompareVerdict::not_run);
  }
  std::ostringstream text;
  render_comparison_text(text, c);
  CHECK_THAT(text.str(), Catch::Contains("whole run: predicted beside measured"));
  CHECK_THAT(text.str(), Catch::Contains("5.9 min predicted"));  // 356 s
  CHECK(c.reports[0].timing_unreliable.empty());
  CHECK_THAT(text.str(), !Catch::Contains("timing unreliable"));
}

TEST_CASE("compare says a whole-run tune's predicted times are unreliable when its steps stalled or the machine was busy",
          "[reports][compare]") {
  Report predicted = synthetic_report("tune.json", 1e-4, 4000, 1, 40);
  WholeRun w;
  w.target_loss = 0.4;
  for (std::int64_t b : {64, 256}) {
    RunPrediction p;
    p.batch_size = b;
    p.seconds = 100.0 + double(b);
    w.predictions.push_back(p);
  }
  w.heavy_step_tails = {{256, 2.4}};
  w.other_cpu_cores = 1.3;
  predicted.whole_run = w;
  const Report measured = synthetic_report("full.json", 1e-4, 4000, 2, 40);
  const Comparison c = compare_reports({measured, predicted}, {});
  CHECK(c.reports[0].timing_unreliable.empty());
  CHECK_THAT(c.reports[1].timing_unreliable, Catch::Contains("heavy tail at 256") && Catch::Contains("loaded (1.3 cores busy)"));
  bool warned = false;
  for (const auto& line : c.warnings) warned = warned || line.find("Its predicted run times are unreliable") != std::string::npos;
  CHECK(warned);
  for (const auto& row : c.batches) {
    if (row.cells[1].predicted_run_seconds) CHECK(row.cells[1].timing_unreliable);
  }
  std::ostringstream text;
  render_comparison_text(text, c);
  CHECK_THAT(text.str(), Catch::Contains("predicted (timing unreliable)"));
  CHECK(comparison_to_json(c).at("reports")[1].at("timing_unreliable") == c.reports[1].timing_unreliable);
}

namespace {

// The case: a report whose arms stall (a thread pool on shared
// cores): most steps at the clean time, every fourth 9x as long, so the mean
// step (the clock) is 3x the median, and samples/s follow the mean.
Report stalling_report(const std::string& path, double seconds_per_sample, int steps = 200) {
  Report r = synthetic_report(path, seconds_per_sample, 4000, 7, steps);
  for (auto& a : r.sweep->arms) {
    for (std::size_t i = 0; i < a.compute_seconds.size(); ++i) {
      if (i % 4 == 3) a.compute_seconds[i] *= 9;
    }
    a.mean_step_seconds = step_times_of(step_total_seconds(a))->mean_s;
    a.samples_per_s = double(a.batch_size) / *a.mean_step_seconds;
  }
  summarise_sweep(*r.sweep);
  return r;
}

}  // namespace

TEST_CASE("compare and check mark verdicts against a report whose timing is unreliable", "[reports][compare][check]") {
  const Report base = synthetic_report("base.json", 1e-4, 4000, 1, 200);
  // Median steps as fast as the baseline's; their mean (what the runs took) 3x.
  const Report stalled = stalling_report("stalled.json", 1e-4);
  const Comparison c = compare_reports({base, stalled}, {});
  REQUIRE(c.reports[1].timing_unreliable.find("heavy tail at 16, 64 and 256") != std::string::npos);
  CHECK(c.reports[0].timing_unreliable.empty());
  for (const auto& row : c.batches) {
    CHECK(row.cells[1].verdict == CompareVerdict::slower);  // by the clock, as the runs went
    CHECK(*row.cells[1].throughput_ratio == Approx(1.0 / 3.0).epsilon(0.05));
    CHECK(*row.cells[1].step_s == Approx(3.0 * *row.cells[1].median_step_s).epsilon(0.05));
    CHECK(row.cells[1].timing_unreliable);
  }
  bool warned = false;
  for (const auto& w : c.warnings) warned = warned || (w.find("Timing unreliable") != std::string::npos &&
                                                       w.find("Verdicts against it are unreliable") != std::string::npos);
  CHECK(warned);
  std::ostringstream text;
  render_comparison_text(text, c);
  CHECK_THAT(text.str(), Catch::Contains("slower, 25 reps, timing unreliable"));
  CHECK(comparison_to_json(c).at("reports")[1].at("timing_unreliable") == "heavy tail at 16, 64 and 256");

  // check: the regression is real by the clock and fails, naming the cause.
  const CheckOutcome o = check_report(stalled, &base, {});
  REQUIRE_FALSE(o.failed.empty());
  CHECK_THAT(o.failed.front(), Catch::Contains("this report's timing is unreliable: heavy tail"));
  bool said = false;
  for (const auto& w : o.warnings) said = said || w.find("Timing unreliable") != std::string::npos;
  CHECK(said);
  // A sound pair says nothing of the kind.
  const CheckOutcome clean = check_report(base, &base, {});
  for (const auto& w : clean.warnings) CHECK(w.find("Timing unreliable") == std::string::npos);
}
