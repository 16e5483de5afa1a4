#include "tests/support/catch.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "reports/render/render_sweep.hpp"
#include "reports/render/render_html.hpp"
#include "reports/render/svg_plot.hpp"
#include "reports/util/units.hpp"
#include "reports/model/whole_run.hpp"

using namespace batchtune;

TEST_CASE("text from a report cannot break out of the HTML", "[reports][html]") {
  CHECK(html_escape("<script>alert('x') & \"y\"</script>") ==
        "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  Report r;
  r.workload.model = "<img src=x onerror=alert(1)>";
  r.command_line = "batchtune sweep --model '<b>'";
  std::ostringstream page;
  render_report_html(page, r);
  CHECK(page.str().find("<img src=x") == std::string::npos);
  CHECK(page.str().find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(page.str().find("<b>") == std::string::npos);
}

TEST_CASE("the HTML page shows the smallest batch, the scan, the phase times and a failed arm", "[reports][html]") {
  Report r;
  ProbeResult p;
  p.min_batch = 2;
  p.min_batch_reason = "BatchNorm needs more than one value per channel";
  r.probe = p;
  SweepResult s;
  s.throughput_scan = {ScanPoint{16, 0.004, 0.004, 4000, 1 << 20, 5}};
  s.throughput_knee = "the knee is at 16";
  s.phase_seconds.total = 12;
  s.phase_seconds.training = 10;
  SweepArm arm;
  arm.batch_size = 16;
  arm.status = ArmStatus::failed;
  arm.message = "the model threw";
  s.arms.push_back(arm);
  summarise_sweep(s);
  r.sweep = s;
  std::ostringstream page;
  render_report_html(page, r);
  CHECK_THAT(page.str(), Catch::Contains("<dt>smallest batch</dt><dd>2: smaller ones cannot train (BatchNorm needs"));
  CHECK_THAT(page.str(), Catch::Contains("Throughput scan: 16 at 4000 samples/s; the knee is at 16."));
  CHECK_THAT(page.str(), Catch::Contains("training 10.0 s") && Catch::Contains("total 12.0 s"));
  CHECK_THAT(page.str(), Catch::Contains("<li>batch 16 seed 0: failed (the model threw)</li>"));
}

TEST_CASE("a throughput-only report shows its timed sizes, not an empty sweep table", "[reports][html]") {
  Report r;
  SweepResult s;
  s.throughput_scan = {ScanPoint{16, 0.004, 0.004, 4000, 1 << 20, 50}, ScanPoint{32, 0.005, 0.005, 6400, 2 << 20, 40}};
  s.throughput_knee = "data-parallel over 2 ranks (gloo): 2 of 2 global batches timed";
  r.sweep = s;
  std::ostringstream page, text;
  render_report_html(page, r);
  CHECK_THAT(page.str(), Catch::Contains("<h3>Throughput only</h3>"));
  CHECK_THAT(page.str(), Catch::Contains("<tr><td>32</td><td>6400</td><td>5 ms</td><td>2.0 MiB</td><td>40</td></tr>"));
  CHECK_THAT(page.str(), !Catch::Contains("Sweep: per batch size"));
  // The throughput chart draws the scan's points.
  CHECK_THAT(page.str(), Catch::Contains("timed steps at each size, no training runs"));
  CHECK_THAT(page.str(), !Catch::Contains("No throughput chart"));
  render_sweep_text(text, s);
  CHECK_THAT(text.str(), Catch::Contains("sweep: throughput only"));
  CHECK_THAT(text.str(), !Catch::Contains("val_loss"));
  // A sweep whose arms ran is not one.
  s.arms.push_back(SweepArm{});
  s.budget_value = 1000;
  CHECK_FALSE(is_throughput_only(s));
}

TEST_CASE("a whole-run page shows the method: the trunk with its arms, B_crit, the step clock, the run's times",
          "[reports][html]") {
  std::ifstream in(std::string(BATCHTUNE_FIXTURES_DIR) + "/whole_run_steady.json");
  REQUIRE(in);
  Report r;
  r.whole_run = nlohmann::json::parse(in).at("whole_run").get<WholeRun>();
  const WholeRun& w = *r.whole_run;
  REQUIRE_FALSE(w.trunk.empty());
  REQUIRE_FALSE(w.predictions.empty());
  std::ostringstream out;
  render_report_html(out, r);
  const std::string page = out.str();
  CHECK(page.find("data-chart=\"trunk-and-arms\"") != std::string::npos);
  CHECK(page.find("data-chart=\"critical-batch\"") != std::string::npos);
  CHECK(page.find("data-chart=\"step-time\"") != std::string::npos);
  // Every completed arm is drawn off the trunk, named by its size and branch point.
  int arms = 0, drawn = 0;
  for (const auto& p : w.branch_points) {
    for (const auto& a : p.arms) {
      if (a.status != ArmStatus::completed || !a.end_loss) continue;
      ++arms;
      const std::string name = "batch " + std::to_string(a.batch_size) +
                               (a.lr_factor != 1 ? " at " : " from " + std::to_string(p.trunk_samples) + " samples");
      if (page.find(name) != std::string::npos) ++drawn;
    }
  }
  CHECK(arms > 0);
  CHECK(drawn == arms);
  // Each size's predicted run time with its interval, as a table.
  CHECK(page.find("Whole run: predicted at each size") != std::string::npos);
  for (const auto& p : w.predictions) {
    if (p.seconds_high > p.seconds_low && p.seconds_low > 0) {
      CHECK(page.find(format_seconds(p.seconds_low) + " to " + format_seconds(p.seconds_high)) != std::string::npos);
    }
  }
  // Nothing the page cannot show for a whole run is announced as missing.
  CHECK(page.find("No throughput chart") == std::string::npos);
  CHECK(page.find("No loss charts") == std::string::npos);
  CHECK(page.find("not_measured") == std::string::npos);
}
