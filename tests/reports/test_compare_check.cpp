#include <catch2/catch.hpp>

#include <sstream>

#include "reports/check.hpp"
#include "reports/compare.hpp"
#include "reports/error.hpp"
#include "tests/reports/report_fixtures.hpp"

using namespace batchtune;
using batchtune::testing::synthetic_report;

TEST_CASE("compare matches batch sizes, gives ratios and says what is noise", "[reports][compare]") {
  const Report base = synthetic_report("a.json", 1e-4, 4000, 1);
  const Report faster = synthetic_report("b.json", 0.5e-4, 2000, 2);  // twice the throughput, half the memory
  const Report same = synthetic_report("c.json", 1e-4, 4000, 3);      // the same machine again
  const Comparison c = compare_reports({base, faster, same}, {});
  REQUIRE(c.batches.size() == 3);
  for (const auto& row : c.batches) {
    REQUIRE(row.cells.size() == 3);
    CHECK(row.cells[0].verdict == "baseline");
    CHECK(row.cells[1].verdict == "faster");
    CHECK(*row.cells[1].throughput_ratio == Approx(2.0).epsilon(0.03));
    CHECK(*row.cells[1].p_value < 0.001);
    CHECK(row.cells[2].verdict == "within noise");
    CHECK(*row.cells[2].throughput_ratio == Approx(1.0).epsilon(0.03));
  }
  CHECK(*c.reports[1].largest_fitting_ratio == Approx(0.5));
  // No machine in the context: labels fall back to the file names.
  CHECK(c.reports[0].label == "a");

  std::ostringstream text, md;
  render_comparison_text(text, c);
  render_comparison_markdown(md, c);
  CHECK_THAT(text.str(), Catch::Contains("faster") && Catch::Contains("within noise") && Catch::Contains("2.00x"));
  CHECK_THAT(md.str(), Catch::Contains("| 64 |"));
  const auto j = comparison_to_json(c);
  CHECK(j.at("batch_sizes").size() == 3);
  CHECK(j.at("batch_sizes")[0].at("reports")[1].at("verdict") == "faster");
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
    CHECK_FALSE(o.passed.empty());
  }
  SECTION("a smaller largest fitting batch and a slower step both fail") {
    settings.min_batch = 3000;
    const Report worse = synthetic_report("worse.json", 1.5e-4, 2000, 2);
    const CheckOutcome o = check_report(worse, &base, settings);
    REQUIRE(o.failed.size() == 5);  // --min-batch, the baseline's largest batch, three batch sizes' throughput
    CHECK_THAT(o.failed[0], Catch::Contains("2000 < --min-batch 3000"));
    CHECK_THAT(o.failed[1], Catch::Contains("largest fitting batch 2000 vs baseline 4000"));
    CHECK_THAT(o.failed[2], Catch::Contains("batch 16: samples/s") && Catch::Contains("U test p"));
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
  SECTION("a baseline of another workload is not comparable") {
    Report other = synthetic_report("other.json", 1e-4, 4000);
    other.workload.optimizer = "adam";
    const CheckOutcome o = check_report(other, &base, settings);
    REQUIRE(o.failed.size() == 1);
    CHECK_THAT(o.failed[0], Catch::Contains("optimizer: sgd vs adam"));
  }
}

TEST_CASE("percentages for --max-regression", "[reports][check]") {
  CHECK(parse_percent("10%", "--max-regression") == Approx(0.10));
  CHECK(parse_percent("10", "--max-regression") == Approx(0.10));
  CHECK(parse_percent("0.5%", "--max-regression") == Approx(0.005));
  CHECK_THROWS_WITH(parse_percent("ten", "--max-regression"), Catch::Contains("--max-regression ten"));
  CHECK_THROWS_AS(parse_percent("150%", "--max-regression"), UsageError);
  CHECK_THROWS_AS(parse_percent("-5%", "--max-regression"), UsageError);
  CHECK_THROWS_AS(parse_percent("", "--max-regression"), UsageError);
}

TEST_CASE("a throughput drop within noise is reported, not failed", "[reports][check]") {
  const Report base = synthetic_report("base.json", 1e-4, 4000, 1, 40);
  // 3 timed steps per size: too few for the U test to call anything significant.
  const Report slower = synthetic_report("slower.json", 1.5e-4, 4000, 2, 2);
  const CheckOutcome o = check_report(slower, &base, {});
  CHECK(o.failed.empty());
  bool named = false;
  for (const auto& line : o.passed) named = named || line.find("from noise") != std::string::npos;
  CHECK(named);
}
