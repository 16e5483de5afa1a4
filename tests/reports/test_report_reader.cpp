#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "reports/error.hpp"
#include "reports/report_reader.hpp"

using namespace batchtune;

namespace {

nlohmann::json sample_report() {
  WorkloadInfo w;
  w.model = "mlp";
  w.data = "fashion-mnist";
  w.device = "cpu";
  ProbeResult p;
  p.strategy = "model";
  p.largest_fitting_batch = 4944;
  p.safe_max_batch = 4407;
  p.trials.push_back(ProbeTrial{16, TrialOutcome::fits, 1000, 0.1, ""});
  SweepResult s;
  s.budget_kind = "samples";
  s.arms.push_back(SweepArm{});
  s.arms[0].batch_size = 64;
  return {{"schema_version", 1}, {"tool", {{"name", "batchtune"}}}, {"context", nlohmann::json::object()},
          {"workload", w}, {"probe", p}, {"sweep", s}, {"recommendation", nullptr}, {"future_field", 42}};
}

std::string write(const std::string& text) {
  const std::string path = "/tmp/batchtune-test-report.json";
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST_CASE("a report reads back into the same model, unknown fields ignored", "[reports]") {
  const nlohmann::json j = sample_report();
  const Report r = read_report(write(j.dump()));
  CHECK(r.schema_version == 1);
  CHECK(r.workload.model == "mlp");
  REQUIRE(r.probe.has_value());
  CHECK(r.probe->safe_max_batch == 4407);
  REQUIRE(r.sweep.has_value());
  CHECK(nlohmann::json(*r.sweep) == j.at("sweep"));
}

TEST_CASE("bad reports get one line naming what is wrong", "[reports]") {
  nlohmann::json j = sample_report();
  CHECK_THROWS_WITH(read_report("/nonexistent/report.json"), Catch::Contains("/nonexistent/report.json"));
  const std::string text = j.dump();
  CHECK_THROWS_WITH(read_report(write(text.substr(0, text.size() / 2))), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(read_report(write("[1, 2]")), Catch::Contains("no schema_version"));

  nlohmann::json newer = j;
  newer["schema_version"] = 2;
  CHECK_THROWS_WITH(read_report(write(newer.dump())), Catch::Contains("newer than this batchtune reads"));

  nlohmann::json missing = j;
  missing.erase("workload");
  CHECK_THROWS_WITH(read_report(write(missing.dump())), Catch::Contains("'workload'"));

  nlohmann::json inner = j;
  inner["probe"].erase("safe_max_batch");
  CHECK_THROWS_WITH(read_report(write(inner.dump())), Catch::Contains("safe_max_batch"));

  nlohmann::json typed = j;
  typed["sweep"]["arms"][0]["steps"] = "many";
  CHECK_THROWS_WITH(read_report(write(typed.dump())), Catch::Contains("section 'sweep'"));

  SECTION("every truncation is an input error, never a crash") {
    for (std::size_t cut = 0; cut < text.size(); cut += 7) {
      CHECK_THROWS_AS(read_report(write(text.substr(0, cut))), InputError);
    }
  }
}

TEST_CASE("show walks dotted keys (--get) and names what is missing", "[reports]") {
  const nlohmann::json j = sample_report();
  CHECK(format_value(value_at(j, "probe.safe_max_batch")) == "4407");
  CHECK(format_value(value_at(j, "workload.model")) == "mlp");
  CHECK(format_value(value_at(j, "probe.trials.0.outcome")) == "fits");
  CHECK(format_value(value_at(j, "recommendation")) == "null");
  CHECK_THROWS_WITH(value_at(j, "probe.safe_max"), Catch::Contains("no key 'safe_max' in 'probe'"));
  CHECK_THROWS_WITH(value_at(j, "probe.trials.5"), Catch::Contains("list of 1 items"));
  CHECK_THROWS_AS(value_at(j, "workload.model.name"), UsageError);
}
