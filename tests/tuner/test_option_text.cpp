// The option texts the command line turns into typed values (tuner/cli/option_text.hpp).
#include "tests/support/catch.hpp"

#include "reports/util/error.hpp"
#include "tuner/cli/option_text.hpp"

using namespace batchtune;

TEST_CASE("sizes in bytes for --memory-limit", "[tuner][cli]") {
  CHECK(parse_size("512MiB", "--memory-limit") == 512ULL << 20);
  CHECK(parse_size("1.5GB", "--memory-limit") == 1500000000ULL);
  CHECK(parse_size("2GiB", "--memory-limit") == 2ULL << 30);
  CHECK_THROWS_AS(parse_size("lots", "--memory-limit"), UsageError);
  CHECK_THROWS_WITH(parse_size("12XB", "--memory-limit"), Catch::Contains("--memory-limit 12XB"));
}

TEST_CASE("percentages for --max-regression", "[tuner][cli]") {
  CHECK(parse_percent("10%", "--max-regression") == Approx(0.10));
  CHECK(parse_percent("10", "--max-regression") == Approx(0.10));
  CHECK(parse_percent("0.5%", "--max-regression") == Approx(0.005));
  CHECK_THROWS_WITH(parse_percent("ten", "--max-regression"), Catch::Contains("--max-regression ten"));
  CHECK_THROWS_AS(parse_percent("150%", "--max-regression"), UsageError);
  CHECK_THROWS_AS(parse_percent("-5%", "--max-regression"), UsageError);
  CHECK_THROWS_AS(parse_percent("", "--max-regression"), UsageError);
}

TEST_CASE("budgets, shards and batch-size lists", "[tuner][cli]") {
  const auto [kind, value] = parse_budget("samples=30000");
  CHECK((kind == BudgetKind::samples && value == 30000));
  const auto [seconds_kind, seconds] = parse_budget("seconds=2.5");
  CHECK((seconds_kind == BudgetKind::seconds && seconds == 2.5));
  CHECK_THROWS_WITH(parse_budget("steps=2.5"), Catch::Contains("whole number"));
  CHECK_THROWS_WITH(parse_budget("epochs=3"), Catch::Contains("expected samples=N, steps=N or seconds=T"));
  CHECK_THROWS_AS(parse_budget("samples=0"), UsageError);
  const auto [index, count] = parse_shard("2/4");
  CHECK((index == 2 && count == 4));
  CHECK_THROWS_AS(parse_shard("5/4"), UsageError);
  CHECK_THROWS_AS(parse_shard("0/4"), UsageError);
  CHECK_THROWS_AS(parse_shard("2-4"), UsageError);
  CHECK(parse_batch_sizes("256,16,64,16") == std::vector<std::int64_t>{16, 64, 256});
  CHECK_THROWS_AS(parse_batch_sizes("16,,64"), UsageError);
  CHECK_THROWS_AS(parse_batch_sizes("0"), UsageError);
  CHECK_THROWS_AS(parse_batch_sizes("sixteen"), UsageError);
}
