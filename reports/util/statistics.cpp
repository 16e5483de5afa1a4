#include "reports/util/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "reports/util/fit.hpp"

namespace batchtune {
namespace {

std::vector<double> finite_only(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }), values.end());
  return values;
}

}  // namespace

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) return s;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  s.mean = *mean_of(values);
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.stddev = values.size() > 1 ? std::sqrt(ss / double(values.size() - 1)) : 0.0;
  return s;
}

std::optional<double> mean_of(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / double(values.size());
}

std::optional<double> mean_of(const std::optional<Spread>& spread) {
  return spread ? std::optional<double>(spread->mean) : std::nullopt;
}

double relative_spread_of(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  const Spread s = spread_of(values);
  return s.mean > 0 ? s.stddev / s.mean : 0;
}

std::optional<MannWhitney> mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<std::pair<double, int>> all;  // value, which sample
  for (double v : a) if (std::isfinite(v)) all.emplace_back(v, 0);
  for (double v : b) if (std::isfinite(v)) all.emplace_back(v, 1);
  MannWhitney r;
  for (const auto& p : all) (p.second == 0 ? r.n1 : r.n2)++;
  if (r.n1 < 3 || r.n2 < 3) return std::nullopt;
  std::sort(all.begin(), all.end());
  // Mid-ranks for ties; the tie term corrects the variance.
  double rank_sum_a = 0;
  double tie_term = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double mid_rank = (double(i + 1) + double(j)) / 2.0;
    const double t = double(j - i);
    tie_term += t * t * t - t;
    for (std::size_t k = i; k < j; ++k) if (all[k].second == 0) rank_sum_a += mid_rank;
    i = j;
  }
  const double n1 = r.n1, n2 = r.n2, n = n1 + n2;
  r.u = rank_sum_a - n1 * (n1 + 1) / 2.0;
  const double mean_u = n1 * n2 / 2.0;
  const double var_u = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)));
  if (var_u <= 0) {  // every value equal
    r.z = 0;
    r.p_value = 1;
    return r;
  }
  const double diff = std::abs(r.u - mean_u);
  r.z = std::max(0.0, diff - 0.5) / std::sqrt(var_u);
  if (r.u < mean_u) r.z = -r.z;
  r.p_value = std::min(1.0, std::erfc(std::abs(r.z) / std::sqrt(2.0)));
  return r;
}

std::optional<double> median_of(std::vector<double> values) {
  values = finite_only(std::move(values));
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

std::optional<double> upper_median_of(std::vector<double> values) {
  values = finite_only(std::move(values));
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::optional<double> quantile_of(std::vector<double> values, double q) {
  values = finite_only(std::move(values));
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const double position = std::clamp(q, 0.0, 1.0) * double(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(position));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return lerp(values[lo], values[hi], position - double(lo));
}

namespace {
template <typename Summary>
std::vector<double> blocks_of(const std::vector<double>& steps_in_order, int steps_per_block, Summary summary) {
  std::vector<double> finite;
  for (double v : steps_in_order) if (std::isfinite(v)) finite.push_back(v);
  std::vector<double> out;
  if (finite.empty()) return out;
  const std::size_t n = finite.size();
  const std::size_t blocks = std::max<std::size_t>(1, n / std::size_t(std::max(1, steps_per_block)));
  for (std::size_t b = 0; b < blocks; ++b) {
    // Contiguous and as even as possible: block b holds [n b / k, n (b+1) / k).
    const auto first = finite.begin() + std::ptrdiff_t(n * b / blocks);
    const auto last = finite.begin() + std::ptrdiff_t(n * (b + 1) / blocks);
    out.push_back(*summary(std::vector<double>(first, last)));
  }
  return out;
}
}  // namespace

std::vector<double> block_means(const std::vector<double>& steps_in_order, int steps_per_block) {
  return blocks_of(steps_in_order, steps_per_block, [](const std::vector<double>& v) { return mean_of(v); });
}

std::optional<StepTimes> step_times_of(const std::vector<double>& steps) {
  const std::vector<double> finite = finite_only(steps);
  if (finite.empty()) return std::nullopt;
  StepTimes t;
  t.mean_s = *mean_of(finite);
  t.median_s = *quantile_of(finite, 0.5);
  t.p10_s = *quantile_of(finite, 0.1);
  t.p90_s = *quantile_of(finite, 0.9);
  t.steps = int(finite.size());
  return t;
}

}  // namespace batchtune
