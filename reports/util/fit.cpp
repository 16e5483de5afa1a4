#include "reports/util/fit.hpp"

#include <cmath>
#include <limits>

namespace batchtune {

std::optional<Line> fit_line(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w) {
  double sw = 0, sx = 0, sy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sw += w[i];
    sx += w[i] * x[i];
    sy += w[i] * y[i];
  }
  if (sw <= 0) return std::nullopt;
  const double mx = sx / sw, my = sy / sw;
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += w[i] * (x[i] - mx) * (x[i] - mx);
    sxy += w[i] * (x[i] - mx) * (y[i] - my);
    syy += w[i] * (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0) return std::nullopt;
  Line l;
  l.slope = sxy / sxx;
  l.intercept = my - l.slope * mx;
  double ss_res = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = y[i] - (l.intercept + l.slope * x[i]);
    ss_res += w[i] * e * e;
  }
  l.r_squared = syy > 0 ? 1.0 - ss_res / syy : 1.0;
  return l;
}

double interpolate_log_log(const std::vector<std::pair<double, double>>& knots, double x) {
  if (knots.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (knots.size() == 1) return knots.front().second * x / knots.front().first;
  std::size_t i = 1;
  while (i + 1 < knots.size() && knots[i].first < x) ++i;
  const double x0 = std::log(knots[i - 1].first), x1 = std::log(knots[i].first);
  const double y0 = std::log(knots[i - 1].second), y1 = std::log(knots[i].second);
  const double slope = x1 > x0 ? (y1 - y0) / (x1 - x0) : 1.0;
  return std::exp(y0 + slope * (std::log(x) - x0));
}

}  // namespace batchtune
