// Stage 2c: the local B_crit at each branch point, from its sizes' ratios
// (S(B) = S_min (1 + B_crit / B) in closed form, a leave-one-size-out band);
// and the first size that did not train at the rule's rate.

#include "reports/run_analysis/stages.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "reports/util/fit.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune {

std::optional<double> fit_critical_from_ratios(const std::vector<std::pair<double, double>>& batch_ratio,
                                               double base_batch) {
  // Residual r (Bc + b0) - (Bc + B) = Bc (r - 1) + (r b0 - B): linear in Bc.
  double num = 0, den = 0;
  for (const auto& [b, r] : batch_ratio) {
    num += (r - 1.0) * (b - r * base_batch);
    den += (r - 1.0) * (r - 1.0);
  }
  if (den <= 1e-12) return std::nullopt;
  return num / den;
}

namespace analysis {

void fit_local(BranchPoint& p, double base_batch) {
  std::vector<std::pair<double, double>> points;
  double largest = 0;
  for (const auto& a : p.arms) {
    if (!a.samples_ratio || a.batch_size == static_cast<std::int64_t>(base_batch)) continue;
    if (standing_arm(p, a.batch_size) != &a) continue;
    points.emplace_back(double(a.batch_size), *a.samples_ratio);
    largest = std::max(largest, double(a.batch_size));
  }
  p.sizes_fitted = static_cast<int>(points.size());
  p.critical_batch.reset();
  p.critical_low.reset();
  p.critical_high.reset();
  p.lower_bound = false;
  if (points.empty()) return;
  const bool all_perfect = std::all_of(points.begin(), points.end(), [](const auto& q) {
    return std::abs(q.second - 1.0) < kPerfectScaling || (q.first > 0 && q.second < 1.0);
  });
  const auto bc = fit_critical_from_ratios(points, base_batch);
  if (all_perfect || !bc || *bc <= 0) {
    // No sign of the knee within the sizes run: B_crit is above them.
    p.lower_bound = true;
    p.critical_batch = largest;
    return;
  }
  p.critical_batch = std::min(*bc, 1e9);
  double lo = *p.critical_batch, hi = *p.critical_batch;
  if (points.size() >= 3) {
    for (std::size_t i = 0; i < points.size(); ++i) {
      auto rest = points;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
      const auto b = fit_critical_from_ratios(rest, base_batch);
      if (!b || *b <= 0) continue;
      lo = std::min(lo, *b);
      hi = std::max(hi, *b);
    }
  }
  p.critical_low = lo;
  p.critical_high = hi;
}

std::optional<std::int64_t> first_unstable_size(const WholeRun& w) {
  std::map<std::int64_t, std::pair<std::int64_t, bool>> latest;  // size -> (point's samples, progressed)
  for (const auto& p : w.branch_points) {
    std::map<std::int64_t, bool> progressed;
    for (const auto& a : p.arms) {
      // A short arm can end a little above its start on a noisy curve; one
      // that ends half as high again, or fails, does not train there.
      const bool ok = a.status == ArmStatus::completed && a.end_loss && std::isfinite(*a.end_loss) &&
                      *a.end_loss < 1.5 * p.loss;
      progressed[a.batch_size] = progressed[a.batch_size] || ok;
    }
    for (const auto& [b, ok] : progressed) {
      auto it = latest.find(b);
      if (it == latest.end() || p.trunk_samples >= it->second.first) latest[b] = {p.trunk_samples, ok};
    }
  }
  for (const auto& [b, v] : latest) {
    if (!v.second) return b;
  }
  return std::nullopt;
}

}  // namespace analysis
}  // namespace batchtune
