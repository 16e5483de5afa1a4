// `show --format env|json|args`: the recommendation as a training script takes it.
#include "tests/support/catch.hpp"

#include <nlohmann/json.hpp>

#include "reports/util/error.hpp"
#include "reports/tools/handoff.hpp"

using namespace batchtune;

namespace {
Report fixture() { return read_report(std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json"); }
}  // namespace

TEST_CASE("the recommendation is handed off as env, json and args", "[reports][handoff]") {
  const Report r = fixture();  // recommends 24 = 24 x 1 at 0.00375
  CHECK(render_handoff(r, HandoffFormat::env) ==
        "BATCHTUNE_BATCH_SIZE=24\nBATCHTUNE_MICRO_BATCH_SIZE=24\nBATCHTUNE_ACCUMULATION_STEPS=1\n"
        "BATCHTUNE_LEARNING_RATE=0.00375\n");
  CHECK(render_handoff(r, HandoffFormat::json) ==
        "{\"batch_size\":24,\"micro_batch_size\":24,\"accumulation_steps\":1,\"learning_rate\":0.00375}\n");
  CHECK(render_handoff(r, HandoffFormat::args) ==
        "--batch-size 24 --micro-batch-size 24 --accumulation-steps 1 --learning-rate 0.00375\n");
}

TEST_CASE("a planned effective batch hands off its micro-batch and accumulation", "[reports][handoff]") {
  Report r = fixture();
  r.recommendation->batch_size = 1024;
  r.recommendation->micro_batch_size = 256;
  r.recommendation->accumulation_steps = 4;
  r.recommendation->learning_rate = 0.16;
  const auto v = handoff_values(r);
  REQUIRE(v.size() == 4);
  CHECK(v[0].value == "1024");
  CHECK(v[1].value == "256");
  CHECK(v[2].value == "4");
  CHECK(v[3].value == "0.16");
}

TEST_CASE("no recommendation hands off nothing and exits 1", "[reports][handoff]") {
  Report r = fixture();
  r.recommendation->status = RecommendationStatus::none;
  r.recommendation->batch_size.reset();
  r.recommendation->reasons = {"no batch size reached the target loss 0.3 in every seed"};
  try {
    render_handoff(r, HandoffFormat::env);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::no_recommendation);
    CHECK(std::string(e.what()).find("reached the target loss") != std::string::npos);
  }
  CHECK_THROWS_AS(parse_handoff_format("yaml"), UsageError);
}

TEST_CASE("an incomplete sweep's recommendation is not handed off: exit 1, saying why", "[reports][handoff]") {
  Report r = fixture();
  REQUIRE(r.sweep);
  REQUIRE(r.recommendation->recommends());
  r.sweep->incomplete = true;
  r.sweep->incomplete_reason = "interrupted by SIGINT after 3 of 6 arms";
  for (const auto format : {HandoffFormat::env, HandoffFormat::json, HandoffFormat::args}) {
    try {
      render_handoff(r, format);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::no_recommendation);
      CHECK(std::string(e.what()).find("the sweep is incomplete (interrupted by SIGINT") != std::string::npos);
      CHECK(std::string(e.what()).find("comes from the arms that finished") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(require_recommendation_for(r, "recommendation.batch_size"), Error);
  CHECK_NOTHROW(require_recommendation_for(r, "probe.safe_max_batch"));
}

TEST_CASE("a data-parallel recommendation hands off each rank's micro-batch and the ranks", "[reports][handoff]") {
  Report r = fixture();
  r.recommendation->batch_size = 512;
  r.recommendation->micro_batch_size = 128;  // a rank's
  r.recommendation->accumulation_steps = 2;
  r.recommendation->data_parallel_ranks = 2;
  CHECK(render_handoff(r, HandoffFormat::env) ==
        "BATCHTUNE_BATCH_SIZE=512\nBATCHTUNE_MICRO_BATCH_SIZE=128\nBATCHTUNE_ACCUMULATION_STEPS=2\n"
        "BATCHTUNE_RANKS=2\nBATCHTUNE_LEARNING_RATE=0.00375\n");
  CHECK(render_handoff(r, HandoffFormat::args) ==
        "--batch-size 512 --micro-batch-size 128 --accumulation-steps 2 --ranks 2 --learning-rate 0.00375\n");
  // The field round-trips through the report's JSON, and is absent otherwise.
  const nlohmann::json j = *r.recommendation;
  CHECK(j.at("data_parallel_ranks") == 2);
  CHECK(j.get<Recommendation>().data_parallel_ranks == 2);
  CHECK_FALSE(nlohmann::json(*fixture().recommendation).contains("data_parallel_ranks"));
}
