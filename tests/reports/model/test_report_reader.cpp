#include "tests/support/catch.hpp"

#include <cstdio>
#include <fstream>

#include "reports/util/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "reports/model/report_reader.hpp"
#include "reports/model/schema_version.hpp"

using namespace batchtune;

namespace {

nlohmann::json sample_report() {
  WorkloadInfo w;
  w.model = "mlp";
  w.data = "fashion-mnist";
  w.device = "cpu";
  ProbeResult p;
  p.strategy = ProbeStrategy::model;
  p.largest_fitting_batch = 4944;
  p.safe_max_batch = 4407;
  p.trials.push_back(ProbeTrial{16, TrialOutcome::fits, 1000, 0.1, ""});
  SweepResult s;
  s.budget_kind = BudgetKind::samples;
  s.arms.push_back(SweepArm{});
  s.arms[0].batch_size = 64;
  return {{"schema_version", kReportSchemaVersion}, {"tool", {{"name", "batchtune"}}}, {"context", nlohmann::json::object()},
          {"workload", w}, {"probe", p}, {"sweep", s}, {"recommendation", nullptr}, {"future_field", 42}};
}

// One folder for the whole test executable, removed at exit.
const test::TempDir& scratch() {
  static const test::TempDir dir;
  return dir;
}

std::string write(const std::string& text) {
  const std::string path = scratch().file("report.json");
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST_CASE("a report reads back into the same model, unknown fields ignored", "[reports]") {
  const nlohmann::json j = sample_report();
  const Report r = read_report(write(j.dump()));
  CHECK(r.schema_version == kReportSchemaVersion);
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
  newer["schema_version"] = kReportSchemaVersion + 1;
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

  // nlohmann's enum macro would read an unknown word as the first value.
  nlohmann::json minutes = j;
  minutes["sweep"]["budget_kind"] = "minutes";
  CHECK_THROWS_WITH(read_report(write(minutes.dump())),
                    Catch::Contains("sweep.budget_kind is \"minutes\", not one of samples, steps, seconds"));
  nlohmann::json maybe = j;
  Recommendation recommended;
  recommended.batch_size = 64;
  maybe["recommendation"] = recommended;
  maybe["recommendation"]["status"] = "maybe";
  CHECK_THROWS_WITH(read_report(write(maybe.dump())),
                    Catch::Contains("recommendation.status is \"maybe\", not one of recommended, none"));
  nlohmann::json numbered = j;
  numbered["sweep"]["arms"][0]["status"] = 3;
  CHECK_THROWS_WITH(read_report(write(numbered.dump())),
                    Catch::Contains("sweep.arms.0.status is 3, not one of completed, diverged"));
  nlohmann::json strategy = j;
  strategy["probe"]["strategy"] = "bisect";
  CHECK_THROWS_WITH(read_report(write(strategy.dump())),
                    Catch::Contains("probe.strategy is \"bisect\", not one of model, binsearch, power"));

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

TEST_CASE("there is one schema version, and the writer's keys are the current schema's", "[reports]") {
  CHECK(kReportSchemaVersion == 2);
  CHECK(kOldestReadableSchemaVersion == 1);
  SweepArm a;
  a.compute_seconds = {0.1, 0.2};
  const nlohmann::json j = a;
  CHECK(j.contains("compute_seconds"));
  CHECK_FALSE(j.contains("step_seconds"));
  CHECK(j.contains("first_evaluation_at_target"));
}

namespace {

// The fixture written back as schema 1 wrote it: `step_seconds`, a `target`
// that is the first evaluation at the target, no recommendation status and
// none of the fields schema 2 added.
nlohmann::json as_schema_1(nlohmann::json j) {
  j["schema_version"] = 1;
  const double target = j["sweep"]["target_loss"].get<double>();
  for (auto& arm : j["sweep"]["arms"]) {
    arm["step_seconds"] = arm["compute_seconds"];
    arm.erase("compute_seconds");
    arm.erase("first_evaluation_at_target");
    arm["target"] = nullptr;
    for (const auto& e : arm["evaluations"]) {
      if (e["loss"].get<double>() <= target) {
        arm["target"] = {{"steps", e["step"]}, {"samples", e["samples"]}, {"seconds", e["seconds"]}};
        break;
      }
    }
  }
  for (auto& s : j["sweep"]["summaries"]) s["seconds_to_target"] = nullptr;  // stale figures the reader must redo
  for (const char* key : {"throughput_scan", "throughput_knee", "phase_seconds"}) j["sweep"].erase(key);
  j["probe"].erase("min_batch");
  j["probe"].erase("min_batch_reason");
  j["recommendation"].erase("status");
  return j;
}

}  // namespace

TEST_CASE("a schema 1 report reads as its schema 2 upgrade", "[reports]") {
  const std::string fixture = std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json";
  const Report current = read_report(fixture);
  REQUIRE(current.schema_version == 2);
  std::ifstream in(fixture);
  const nlohmann::json v1 = as_schema_1(nlohmann::json::parse(in));
  REQUIRE(v1["sweep"]["arms"][0].contains("step_seconds"));
  const Report old = read_report(write(v1.dump(2)));
  CHECK(old.schema_version == 1);
  REQUIRE(old.sweep.has_value());
  // step_seconds became compute_seconds; `target` is recomputed as the
  // interpolated crossing, the summaries with it: the typed model is the
  // same as the schema 2 file's.
  CHECK(nlohmann::json(*old.sweep) == nlohmann::json(*current.sweep));
  const SweepArm& arm = old.sweep->arms.front();
  REQUIRE(arm.target.has_value());
  REQUIRE(arm.first_evaluation_at_target.has_value());
  CHECK(arm.target->steps < double(arm.first_evaluation_at_target->step));  // 65.5, not 77
  REQUIRE(old.recommendation.has_value());
  CHECK(old.recommendation->status == RecommendationStatus::recommended);
  CHECK(old.recommendation->recommends());
  CHECK(old.probe->min_batch == 1);
  // `show --get` reads the file as written.
  CHECK(value_at(old.json, "sweep.arms.0.step_seconds").is_array());
}

TEST_CASE("a report nested deeper than any real one is refused before parsing", "[reports]") {
  // ~300 KB of brackets: parsing (or destroying) it recursively would exhaust the stack.
  const std::string deep = std::string(150000, '[') + std::string(150000, ']');
  CHECK_THROWS_AS(read_report(write(deep)), InputError);
  CHECK_THROWS_WITH(read_report(write(deep)), Catch::Contains("nested deeper than 64 levels"));
  // Deep inside an otherwise valid report, and unclosed (truncated) too.
  nlohmann::json j = sample_report();
  const std::string text = j.dump();
  const std::string nested = text.substr(0, text.size() - 1) + ", \"x\": " + std::string(65, '[') +
                             std::string(65, ']') + "}";
  CHECK_THROWS_WITH(read_report(write(nested)), Catch::Contains("nested deeper"));
  CHECK_THROWS_WITH(read_report(write(std::string(100000, '{'))), Catch::Contains("nested deeper"));

  SECTION("the limit itself, and brackets inside strings, are fine") {
    const std::string at_limit = text.substr(0, text.size() - 1) + ", \"x\": " + std::string(63, '[') +
                                 std::string(63, ']') + "}";
    CHECK_NOTHROW(read_report(write(at_limit)));
    nlohmann::json quoted = j;
    quoted["workload"]["model"] = std::string(1000, '[') + "\"{{{";
    const Report r = read_report(write(quoted.dump()));
    CHECK(r.workload.model.size() == 1004);
    CHECK_NOTHROW(check_nesting_depth(R"({"a": "\\", "b": [[["]]]]]]"]]]})", "escaped"));
  }
}

TEST_CASE("show --get of the recommended batch size needs a recommendation", "[reports]") {
  Report r;
  r.path = "r.json";
  SECTION("no recommendation section") {
    CHECK_THROWS_AS(require_recommendation_for(r, "recommendation.batch_size"), NoRecommendationError);
    CHECK_NOTHROW(require_recommendation_for(r, "probe.safe_max_batch"));
  }
  SECTION("a recommendation of none: exit 1, with the reason") {
    Recommendation none;
    none.status = RecommendationStatus::none;
    none.reasons = {"No batch size reached the target validation loss 0.3 in every seed within the budget."};
    r.recommendation = none;
    try {
      require_recommendation_for(r, "recommendation.learning_rate");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::no_recommendation);
      CHECK(to_int(e.code()) == 1);
      CHECK_THAT(std::string(e.what()), Catch::Contains("r.json: no recommendation, no batch size had the evidence: No batch size reached"));
    }
    CHECK_NOTHROW(require_recommendation_for(r, "recommendation.reasons"));
  }
  SECTION("a recommendation") {
    Recommendation yes;
    yes.batch_size = 64;
    r.recommendation = yes;
    CHECK_NOTHROW(require_recommendation_for(r, "recommendation.batch_size"));
  }
}

TEST_CASE("a recommendation of none is written with null values and read back", "[reports]") {
  Recommendation none;
  none.objective = Objective::time_to_target;
  none.status = RecommendationStatus::none;
  none.confidence = Confidence::none;
  const nlohmann::json j = none;
  CHECK(j.at("status") == "none");
  for (const char* key : {"batch_size", "micro_batch_size", "accumulation_steps", "learning_rate"}) {
    CHECK(j.at(key).is_null());
  }
  const Recommendation back = j.get<Recommendation>();
  CHECK_FALSE(back.recommends());
  CHECK_FALSE(back.batch_size.has_value());

  nlohmann::json contradiction = j;
  contradiction["status"] = "recommended";
  CHECK_THROWS_WITH(contradiction.get<Recommendation>(), Catch::Contains("batch_size is null"));
}

TEST_CASE("a target's origin is typed, kept by its words, and read back from them", "[reports]") {
  CHECK(target_origin_of(std::nullopt, kGivenTargetWords) == TargetOrigin::none);
  CHECK(target_origin_of(0.5, kGivenTargetWords) == TargetOrigin::given);
  CHECK(target_origin_of(0.5, "the median of the completed arms' best validation losses") == TargetOrigin::chosen);
  SweepResult s;
  give_target(s, 0.42);
  CHECK(s.target_origin == TargetOrigin::given);
  CHECK(*s.target_loss == Approx(0.42));
  const nlohmann::json j = s;
  CHECK(j.at("target_source") == kGivenTargetWords);  // the JSON keeps the words only
  CHECK_FALSE(j.contains("target_origin"));
  CHECK(j.get<SweepResult>().target_origin == TargetOrigin::given);
  SweepResult chosen;  // no target given: the arms' median is chosen
  SweepArm a;
  a.batch_size = 64;
  a.evaluations = {EvalPoint{10, 640, 1.0, 0.7, std::nullopt}};
  chosen.arms = {a};
  summarise_sweep(chosen);
  CHECK(chosen.target_origin == TargetOrigin::chosen);
  CHECK(nlohmann::json(chosen).get<SweepResult>().target_origin == TargetOrigin::chosen);
}
