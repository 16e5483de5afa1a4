// Line fits and interpolation, in one place: the weighted least-squares line
// the recommendation's S(B) and t(B) fits are made of, and the linear and
// log-log interpolation between measured points (a loss crossing its target
// between two evaluations, a step time between two swept batch sizes).
#pragma once

#include <optional>
#include <utility>
#include <vector>

namespace batchtune {

struct Line {
  double intercept = 0;
  double slope = 0;
  double r_squared = 0;  // weighted; 1 when every y is the same
  int points = 0;        // left for the caller to fill in: it knows which points counted
};

// Weighted least squares y = intercept + slope x over the points i with
// weight w[i] (x, y and w the same length). None when the weights sum to
// nothing or every x is the same (no slope to find).
std::optional<Line> fit_line(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w);

// a at t = 0, b at t = 1, on the line through them elsewhere.
inline double lerp(double a, double b, double t) { return a + t * (b - a); }

// y at x on the piecewise power law through the knots (x, y), sorted by x,
// every coordinate positive: a straight line between neighbouring knots on
// log-log axes, the end segments extended beyond the knots. With one knot y
// is proportional to x (a log-log slope of 1), and so is a segment whose
// knots share their x. NaN without knots.
double interpolate_log_log(const std::vector<std::pair<double, double>>& knots, double x);

}  // namespace batchtune
