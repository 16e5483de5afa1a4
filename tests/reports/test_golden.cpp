// The console and Markdown renderings of a real (saved) sweep report, against
// golden files: any change to what people read shows up as a reviewed diff.
#include <catch2/catch.hpp>

#include <sstream>

#include "reports/render_text.hpp"
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
  CHECK(nlohmann::json(*r.sweep) == r.json.at("sweep"));
  CHECK(nlohmann::json(*r.probe) == r.json.at("probe"));
  CHECK(nlohmann::json(r.workload) == r.json.at("workload"));
  REQUIRE(r.machine.has_value());
  CHECK(nlohmann::json(*r.machine) == r.json.at("context").at("machine"));
  if (r.recommendation) CHECK(nlohmann::json(*r.recommendation) == r.json.at("recommendation"));
}
