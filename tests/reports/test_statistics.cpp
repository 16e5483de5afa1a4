#include "tests/support/catch.hpp"

#include "reports/statistics.hpp"

using namespace batchtune;

TEST_CASE("Mann-Whitney U matches the textbook values", "[reports][statistics]") {
  // scipy.stats.mannwhitneyu([1..5], [6..10], method="asymptotic"): U = 0, p = 0.01219.
  const auto r = mann_whitney_u({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  REQUIRE(r.has_value());
  CHECK(r->u == 0);
  CHECK(r->p_value == Approx(0.01219).epsilon(0.01));
  CHECK(r->z < 0);  // the first sample is smaller

  SECTION("identical samples are not different") {
    const auto same = mann_whitney_u({3, 3, 3, 3}, {3, 3, 3});
    REQUIRE(same.has_value());
    CHECK(same->p_value == 1.0);
  }
  SECTION("interleaved samples are within noise") {
    const auto mixed = mann_whitney_u({1, 3, 5, 7, 9, 11}, {2, 4, 6, 8, 10, 12});
    REQUIRE(mixed.has_value());
    CHECK(mixed->p_value > 0.5);
  }
  SECTION("ties get mid-ranks") {
    // scipy, asymptotic with ties: U = 2.0 for [1,2,2,3] vs [2,4,5,6].
    const auto tied = mann_whitney_u({1, 2, 2, 3}, {2, 4, 5, 6});
    REQUIRE(tied.has_value());
    CHECK(tied->u == 2.0);
  }
  SECTION("too few values give no test, non-finite values are dropped") {
    CHECK_FALSE(mann_whitney_u({1, 2}, {3, 4, 5}).has_value());
    CHECK_FALSE(mann_whitney_u({1, 2, NAN}, {3, 4, 5}).has_value());
  }
}

TEST_CASE("median of finite values", "[reports][statistics]") {
  CHECK(*median_of({3, 1, 2}) == 2);
  CHECK(*median_of({4, 1, 2, 3}) == 2.5);
  CHECK_FALSE(median_of({}).has_value());
  CHECK(*median_of({NAN, 5}) == 5);
}

TEST_CASE("block medians turn correlated steps into fewer, honest repetitions", "[reports][statistics]") {
  // 40 steps in blocks of 8: 5 repetitions, each the median of its own block.
  std::vector<double> steps;
  for (int block = 0; block < 5; ++block) {
    for (int i = 0; i < 8; ++i) steps.push_back(double(block) + (i == 0 ? 100.0 : 0.0));  // one stray slow step each
  }
  const auto medians = block_medians(steps);
  REQUIRE(medians.size() == 5);
  for (int b = 0; b < 5; ++b) CHECK(medians[std::size_t(b)] == double(b));  // robust to the stray step
  SECTION("a remainder is spread over the blocks, never a short last block") {
    CHECK(block_medians(std::vector<double>(23, 1.0)).size() == 2);  // 11 + 12 steps
    CHECK(block_medians(std::vector<double>(16, 1.0)).size() == 2);
  }
  SECTION("fewer than a block: one repetition, the median; nothing from nothing") {
    CHECK(block_medians({3, 1, 2}) == std::vector<double>{2});
    CHECK(block_medians({}).empty());
    CHECK(block_medians({NAN, NAN}).empty());
  }
}
