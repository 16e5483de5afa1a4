// The console and Markdown renderings of a real (saved) sweep report, against
// golden files: any change to what people read shows up as a reviewed diff.
#include "tests/support/catch.hpp"

#include <sstream>

#include "reports/render/render_text.hpp"
#include "tests/reports/golden.hpp"

using namespace batchtune;

TEST_CASE("console and Markdown output match the golden files", "[reports][golden]") {
  const Report r = read_report(std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json");
  std::ostringstream text, md;
  render_report_text(text, r);
  render_report_markdown(md, r);
  testing::check_golden("report_mlp_small.txt", text.str());
  testing::check_golden("report_mlp_small.md", md.str());
}

TEST_CASE("a report read back and written again is the same report", "[reports][golden]") {
  const Report r = read_report(std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json");
  REQUIRE(r.sweep.has_value());
  REQUIRE(r.probe.has_value());
  // The fixture predates the generalisation figures: read back, it has them
  // (rebuilt from its arms), and without them it is the file.
  nlohmann::json sweep = *r.sweep;
  for (auto& b : sweep.at("summaries")) {
    CHECK(b.at("final_training_loss").is_object());
    for (const char* k : {"final_training_loss", "generalization_gap", "validation_worse_than_best"}) b.erase(k);
  }
  for (auto& a : sweep.at("arms")) a.erase("final_training_loss");
  CHECK(sweep == r.json.at("sweep"));
  // A report that has them reads back to itself.
  nlohmann::json doc = r.json;
  doc["sweep"] = nlohmann::json(*r.sweep);
  CHECK(nlohmann::json(*report_from_json(doc, "with generalisation").sweep) == doc.at("sweep"));
  CHECK(nlohmann::json(*r.probe) == r.json.at("probe"));
  CHECK(nlohmann::json(r.workload) == r.json.at("workload"));
  REQUIRE(r.machine.has_value());
  CHECK(nlohmann::json(*r.machine) == r.json.at("context").at("machine"));
  REQUIRE(r.recommendation.has_value());  // the fixture recommends: the section must round-trip
  CHECK(nlohmann::json(*r.recommendation) == r.json.at("recommendation"));
}

namespace {

// The fixture with what a newer sweep records: a smallest batch above 1, the
// throughput scan and its knee, the phase times, and an arm that failed.
Report with_scan_phases_and_failure() {
  Report r = read_report(std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json");
  r.probe->min_batch = 2;
  r.probe->min_batch_reason = "Expected more than 1 value per channel when training, got input size [1, 16]\nbacktrace";
  r.sweep->throughput_scan = {ScanPoint{16, 0.004, 0.004, 4000, 1 << 20, 5}, ScanPoint{32, 0.006, 0.006, 5333, 1 << 21, 5},
                              ScanPoint{64, 0.0118, 0.0118, 5424, 1 << 22, 5}};
  r.sweep->throughput_knee = "throughput grows less than 10% past batch 32";
  r.sweep->phase_seconds = PhaseSeconds{0.15, 1.2, 30.5, 4.25, 2.0, 38.6};
  SweepArm& arm = r.sweep->arms.back();
  arm.status = ArmStatus::failed;
  arm.failed_at_step = 3;
  arm.message = "shape mismatch in the model's forward";
  return r;
}

}  // namespace

TEST_CASE("the console and Markdown show the smallest batch, the scan, the phase times and failed arms",
          "[reports][golden]") {
  const Report r = with_scan_phases_and_failure();
  std::ostringstream text, md;
  render_report_text(text, r);
  render_report_markdown(md, r);
  CHECK_THAT(text.str(), Catch::Contains("  smallest batch        2 (smaller ones cannot train: Expected more than 1 "
                                         "value per channel when training, got input size [1, 16])\n"));
  CHECK_THAT(text.str(), !Catch::Contains("backtrace"));
  CHECK_THAT(text.str(), Catch::Contains("  throughput scan       16 at 4000, 32 at 5333, 64 at 5424 samples/s; "
                                         "throughput grows less than 10% past batch 32\n"));
  CHECK_THAT(text.str(), Catch::Contains("  time                  probe 0.15 s, scan 1.20 s, training 30.5 s, "
                                         "evaluation 4.25 s, noise 2.00 s, total 38.6 s\n"));
  CHECK_THAT(text.str(), Catch::Contains("  batch 256 seed 1: failed at step 3 (shape mismatch in the model's forward)\n"));
  CHECK_THAT(md.str(), Catch::Contains("Smallest batch 2: smaller ones cannot train (Expected more than 1 value"));
  CHECK_THAT(md.str(), Catch::Contains("- Batch 256 seed 1: failed at step 3"));
  CHECK_THAT(md.str(), Catch::Contains("Time: probe 0.15 s, throughput scan 1.20 s, training 30.5 s"));

  SECTION("without them, nothing is said") {
    const Report plain = read_report(std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json");
    std::ostringstream t;
    render_report_text(t, plain);
    CHECK_THAT(t.str(), !Catch::Contains("smallest batch") && !Catch::Contains("throughput scan") &&
                            !Catch::Contains("  time   "));
  }
}
