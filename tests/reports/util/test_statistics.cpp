#include "tests/support/catch.hpp"

#include <cmath>

#include "reports/util/fit.hpp"
#include "reports/util/statistics.hpp"

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

TEST_CASE("the upper median takes the larger middle value, so half the values reach it", "[reports][statistics]") {
  CHECK(*upper_median_of({4, 1, 3, 2}) == 3);  // median_of says 2.5
  CHECK(*upper_median_of({3, 1, 2}) == 2);
  CHECK(*upper_median_of({7}) == 7);
  CHECK(*upper_median_of({NAN, 2, 1, INFINITY}) == 2);
  CHECK_FALSE(upper_median_of({}).has_value());
  CHECK_FALSE(upper_median_of({NAN}).has_value());
}

TEST_CASE("quantiles interpolate between order statistics (type 7, numpy's default)", "[reports][statistics]") {
  // numpy.quantile([1, 2, 3, 4, 5], q) for q = 0, 0.1, 0.25, 0.5, 0.9, 1.
  const std::vector<double> one_to_five{5, 3, 1, 4, 2};  // unsorted on purpose
  CHECK(*quantile_of(one_to_five, 0.0) == 1);
  CHECK(*quantile_of(one_to_five, 0.1) == Approx(1.4).epsilon(1e-12));
  CHECK(*quantile_of(one_to_five, 0.25) == 2);
  CHECK(*quantile_of(one_to_five, 0.5) == 3);
  CHECK(*quantile_of(one_to_five, 0.9) == Approx(4.6).epsilon(1e-12));
  CHECK(*quantile_of(one_to_five, 1.0) == 5);
  SECTION("between the two middle values of an even count") {
    CHECK(*quantile_of({1, 2, 3, 4}, 0.5) == 2.5);
    CHECK(*quantile_of({10, 20}, 0.75) == 17.5);
  }
  SECTION("non-finite values are dropped; nothing from nothing") {
    CHECK(*quantile_of({NAN, 1, 3, INFINITY}, 0.5) == 2);
    CHECK(*quantile_of({4}, 0.3) == 4);
    CHECK_FALSE(quantile_of({}, 0.5).has_value());
  }
}

TEST_CASE("mean and spread across seeds", "[reports][statistics]") {
  // The textbook set: mean 5, sample variance 32/7.
  const std::vector<double> values{2, 4, 4, 4, 5, 5, 7, 9};
  const Spread s = spread_of(values);
  CHECK(s.n == 8);
  CHECK(s.mean == 5);
  CHECK(s.min == 2);
  CHECK(s.max == 9);
  CHECK(s.stddev == Approx(std::sqrt(32.0 / 7.0)).epsilon(1e-12));
  CHECK(*mean_of(values) == 5);
  CHECK(relative_spread_of(values) == Approx(std::sqrt(32.0 / 7.0) / 5.0).epsilon(1e-12));
  SECTION("one value has no spread") {
    const Spread one = spread_of({3});
    CHECK(one.mean == 3);
    CHECK(one.stddev == 0);
    CHECK(relative_spread_of({3}) == 0);
  }
  SECTION("no values") {
    const Spread none = spread_of({});
    CHECK(none.n == 0);
    CHECK(none.mean == 0);
    CHECK_FALSE(mean_of(std::vector<double>{}).has_value());
  }
  SECTION("a mean that is not positive has no relative spread") {
    CHECK(relative_spread_of({-1, -3}) == 0);
  }
  SECTION("the mean of a spread that may be missing") {
    CHECK_FALSE(mean_of(std::optional<Spread>{}).has_value());
    CHECK(*mean_of(std::optional<Spread>(s)) == 5);
  }
}

TEST_CASE("a weighted least-squares line", "[reports][fit]") {
  SECTION("exact points give the line back, R^2 1") {
    const auto line = fit_line({1, 2, 3, 4}, {5, 7, 9, 11}, {1, 1, 1, 1});  // y = 3 + 2x
    REQUIRE(line.has_value());
    CHECK(line->intercept == Approx(3).epsilon(1e-12));
    CHECK(line->slope == Approx(2).epsilon(1e-12));
    CHECK(line->r_squared == Approx(1).epsilon(1e-12));
  }
  SECTION("a point of weight zero does not count") {
    const auto line = fit_line({0, 1, 2, 10}, {1, 3, 5, 100}, {1, 1, 1, 0});
    REQUIRE(line.has_value());
    CHECK(line->intercept == Approx(1).epsilon(1e-12));
    CHECK(line->slope == Approx(2).epsilon(1e-12));
  }
  SECTION("R^2 of points off the line") {
    // (0,0), (1,1), (2,1): y = 1/6 + x/2, residuals -1/6, 1/3, -1/6; R^2 = 1 - (1/6)/(2/3) = 0.75.
    const auto line = fit_line({0, 1, 2}, {0, 1, 1}, {1, 1, 1});
    REQUIRE(line.has_value());
    CHECK(line->intercept == Approx(1.0 / 6.0).epsilon(1e-12));
    CHECK(line->slope == Approx(0.5).epsilon(1e-12));
    CHECK(line->r_squared == Approx(0.75).epsilon(1e-12));
  }
  SECTION("no line through one x, or without weight") {
    CHECK_FALSE(fit_line({2, 2, 2}, {1, 2, 3}, {1, 1, 1}).has_value());
    CHECK_FALSE(fit_line({1, 2}, {1, 2}, {0, 0}).has_value());
    CHECK_FALSE(fit_line({}, {}, {}).has_value());
  }
}

TEST_CASE("linear and log-log interpolation", "[reports][fit]") {
  SECTION("lerp: the ends at 0 and 1, the line between and beyond") {
    CHECK(lerp(2, 6, 0) == 2);
    CHECK(lerp(2, 6, 1) == 6);
    CHECK(lerp(2, 6, 0.25) == 3);
    CHECK(lerp(2, 6, 1.5) == 8);
    CHECK(lerp(6, 2, 0.25) == 5);
  }
  // y = x^2 up to 4, then y = 4x: log-log slopes 2 and 1.
  const std::vector<std::pair<double, double>> knots{{1, 1}, {4, 16}, {16, 64}};
  SECTION("at the knots, the knots") {
    CHECK(interpolate_log_log(knots, 1) == Approx(1).epsilon(1e-12));
    CHECK(interpolate_log_log(knots, 4) == Approx(16).epsilon(1e-12));
    CHECK(interpolate_log_log(knots, 16) == Approx(64).epsilon(1e-12));
  }
  SECTION("between knots, each segment's power law") {
    CHECK(interpolate_log_log(knots, 2) == Approx(4).epsilon(1e-12));
    CHECK(interpolate_log_log(knots, 8) == Approx(32).epsilon(1e-12));
  }
  SECTION("beyond the knots, the end segments extended") {
    CHECK(interpolate_log_log(knots, 0.5) == Approx(0.25).epsilon(1e-12));
    CHECK(interpolate_log_log(knots, 32) == Approx(128).epsilon(1e-12));
  }
  SECTION("one knot: proportional; none: NaN") {
    CHECK(interpolate_log_log({{10, 2}}, 20) == 4);
    CHECK(std::isnan(interpolate_log_log({}, 3)));
  }
}

TEST_CASE("block means turn correlated steps into fewer, honest repetitions", "[reports][statistics]") {
  // 40 steps in blocks of 8: 5 repetitions, each the mean of its own block,
  // a stall included as the run pays it.
  std::vector<double> steps;
  for (int block = 0; block < 5; ++block) {
    for (int i = 0; i < 8; ++i) steps.push_back(double(block) + (i == 0 ? 8.0 : 0.0));  // one stall each
  }
  const auto means = block_means(steps);
  REQUIRE(means.size() == 5);
  for (int b = 0; b < 5; ++b) CHECK(means[std::size_t(b)] == Approx(double(b) + 1.0));
  SECTION("a remainder is spread over the blocks, never a short last block") {
    CHECK(block_means(std::vector<double>(23, 1.0)).size() == 2);  // 11 + 12 steps
    CHECK(block_means(std::vector<double>(16, 1.0)).size() == 2);
    // 23 steps 0..22: blocks [0, 11) and [11, 23), means 5 and 16.5.
    std::vector<double> ramp;
    for (int i = 0; i < 23; ++i) ramp.push_back(double(i));
    CHECK(block_means(ramp) == std::vector<double>{5.0, 16.5});
  }
  SECTION("fewer than a block: one repetition, the mean; nothing from nothing") {
    CHECK(block_means({3, 1, 2}) == std::vector<double>{2});
    CHECK(block_means({3, NAN, 1}) == std::vector<double>{2});
    CHECK(block_means({}).empty());
    CHECK(block_means({NAN, NAN}).empty());
  }
}
