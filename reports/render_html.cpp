#include "reports/render_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "reports/machine_info.hpp"
#include "reports/text_util.hpp"
#include "reports/units.hpp"

namespace batchtune {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

using Point = std::pair<double, double>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Okabe & Ito (2008): hues that stay apart under every common colour-vision
// deficiency. Yellow is left out: it vanishes on white.
namespace colour {
constexpr const char* orange = "#E69F00";
constexpr const char* green = "#009E73";
constexpr const char* blue = "#0072B2";
constexpr const char* vermillion = "#D55E00";
constexpr const char* purple = "#CC79A7";
constexpr const char* black = "#000000";
constexpr const char* grey = "#707070";
}  // namespace colour

// Batch sizes are ordered and a sweep has ten or more, more than Okabe-Ito's
// seven usable hues, so the loss charts colour them along viridis (also safe
// for colour-blind readers): small batches dark purple, large ones green. The
// yellow end is cut off for the same reason as above.
std::string batch_colour(std::size_t index, std::size_t count) {
  static const int stops[][3] = {{68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},  {42, 120, 142},
                                 {33, 145, 140}, {34, 168, 132}, {68, 191, 112}, {122, 209, 81}, {189, 223, 38}};
  const double t = count > 1 ? 8.5 * static_cast<double>(index) / static_cast<double>(count - 1) : 0.0;
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(t), 8);
  const double f = t - static_cast<double>(k);
  char buf[8];
  const auto mix = [&](int channel) {
    return static_cast<int>(std::lround(stops[k][channel] + f * (stops[k + 1][channel] - stops[k][channel])));
  };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(0), mix(1), mix(2));
  return buf;
}

std::string num(std::optional<double> value, const char* format) { return format_number(value, format); }
std::string esc(const std::string& text) { return html_escape(text); }
std::string integer(std::int64_t value) { return std::to_string(value); }

// SVG coordinates; callers pass only finite values (SvgPlot checks).
std::string coord(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

// ---------------------------------------------------------------------------
// A small SVG plot: two axes (linear, log2 or log10), grid, ticks, titles, a legend
// beside the plot (never over the data), and helpers for the marks. Every
// chart on the page is one of these.

enum class Scale { linear, log2, log10 };

bool is_log(Scale s) { return s != Scale::linear; }

// The span of the values a scale can place: non-finite values, and values at
// or below zero on a log scale, are skipped rather than poisoning the range.
struct Extent {
  Scale scale = Scale::linear;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();

  explicit Extent(Scale s) : scale(s) {}
  void add(double v) {
    if (!std::isfinite(v) || (is_log(scale) && v <= 0)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void add(std::optional<double> v) {
    if (v) add(*v);
  }
  bool empty() const { return !(lo <= hi); }
};

struct Axis {
  Scale scale = Scale::linear;
  double lo = 0;  // the domain; on a log scale, the logarithms of its ends
  double hi = 1;
  std::vector<double> ticks;  // data values
  std::vector<std::string> labels;
  std::string title;
};

// 1, 2 or 5 times a power of ten, giving about `target` intervals.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * magnitude;
}

// Linear axis rounded out to whole ticks; labels shortened to k or M when the
// numbers are large, with as many decimals as the step needs.
Axis linear_axis(const Extent& extent, std::string title, bool include_zero, int target_ticks) {
  Axis axis;
  axis.title = std::move(title);
  double lo = extent.empty() ? 0.0 : extent.lo;
  double hi = extent.empty() ? 1.0 : extent.hi;
  const bool all_positive = lo >= 0;
  if (include_zero) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  if (!(hi - lo > 0) || !std::isfinite(hi - lo)) {  // one value (or absurd ones): give it room
    const double pad = (lo == 0 || !std::isfinite(lo)) ? 1.0 : std::fabs(lo) * 0.1;
    if (!std::isfinite(lo)) lo = 0;
    hi = lo + pad;
    lo = (include_zero && all_positive) ? std::max(0.0, lo - pad) : lo - pad;
  }
  const double step = nice_step(hi - lo, target_ticks);
  axis.lo = std::floor(lo / step + 1e-9) * step;
  axis.hi = std::ceil(hi / step - 1e-9) * step;
  if (!(axis.hi > axis.lo)) axis.hi = axis.lo + step;

  const double largest = std::max(std::fabs(axis.lo), std::fabs(axis.hi));
  const double divisor = largest >= 1e6 ? 1e6 : largest >= 1e4 ? 1e3 : 1;
  const char* suffix = largest >= 1e6 ? "M" : largest >= 1e4 ? "k" : "";
  const int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step / divisor) - 1e-9)), 0, 6);
  const auto count = static_cast<int>(std::lround((axis.hi - axis.lo) / step));
  for (int i = 0; i <= count && i <= 50; ++i) {
    const double t = axis.lo + i * step;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f%s", decimals, std::fabs(t) < step * 1e-6 ? 0.0 : t / divisor,
                  std::fabs(t) < step * 1e-6 ? "" : suffix);
    axis.ticks.push_back(t);
    axis.labels.emplace_back(buf);
  }
  return axis;
}

// Batch sizes on a log2 axis, ticks at powers of two (every second or fourth
// one when the labels would collide), the domain padded so end points do not
// sit on the frame.
Axis log2_axis(const Extent& extent, std::string title, double length_px) {
  Axis axis;
  axis.scale = Scale::log2;
  axis.title = std::move(title);
  const double lo = extent.empty() ? 0.0 : std::log2(extent.lo);
  const double hi = extent.empty() ? 1.0 : std::log2(extent.hi);
  const double pad = hi - lo < 1 ? 1.0 : 0.35;
  axis.lo = lo - pad;
  axis.hi = hi + pad;
  const auto first = static_cast<int>(std::ceil(axis.lo));
  const auto last = static_cast<int>(std::floor(axis.hi));
  const double widest_label_px = 7.0 * std::to_string(static_cast<long long>(std::exp2(std::max(0, last)))).size() + 14;
  const double px_per_exponent = length_px / (axis.hi - axis.lo);
  int stride = 1;
  while (stride * px_per_exponent < widest_label_px && stride < 64) stride *= 2;
  for (int e = first; e <= last; ++e) {
    if (((e % stride) + stride) % stride != 0) continue;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", std::exp2(e));
    axis.ticks.push_back(std::exp2(e));
    axis.labels.emplace_back(e >= 0 ? buf : "");
  }
  return axis;
}

// Times that span decades (a time-to-target curve, predicted against
// measured): ticks at powers of ten, and at 2 and 5 times them when the axis
// spans less than three decades.
Axis log10_axis(const Extent& extent, std::string title) {
  Axis axis;
  axis.scale = Scale::log10;
  axis.title = std::move(title);
  const double lo = extent.empty() ? 0.0 : std::log10(extent.lo);
  const double hi = extent.empty() ? 1.0 : std::log10(extent.hi);
  axis.lo = std::floor(lo + 1e-9);
  axis.hi = std::max(std::ceil(hi - 1e-9), axis.lo + 1);
  const bool minor = axis.hi - axis.lo < 3;
  for (auto e = static_cast<int>(axis.lo); e <= static_cast<int>(axis.hi); ++e) {
    for (const double m : {1.0, 2.0, 5.0}) {
      if ((m != 1.0 && !minor) || e + std::log10(m) > axis.hi + 1e-9) continue;
      const double v = m * std::pow(10.0, e);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", v);
      axis.ticks.push_back(v);
      axis.labels.emplace_back(buf);
    }
  }
  return axis;
}

struct LegendEntry {
  enum class Symbol { line, dashed_line, dotted_line, dot, line_dot, cross, square, whisker, band };
  Symbol symbol = Symbol::line;
  std::string colour;
  std::string label;
  double width = 2;
};

class SvgPlot {
 public:
  static constexpr double kWidth = 1000;
  static constexpr double kLeft = 78;    // y tick labels and title
  static constexpr double kRight = 210;  // the legend
  static constexpr double kTop = 46;     // chart title
  static constexpr double kBottom = 54;  // x tick labels and title
  static constexpr double kPlotWidth = kWidth - kLeft - kRight;
  static constexpr double kPlotHeight = 226;
  static constexpr double kLegendRow = 19;
  static constexpr double kClipMargin = 6;

  SvgPlot(std::string name, std::string title, std::string subtitle, Axis x, Axis y)
      : name_(std::move(name)),
        title_(std::move(title)),
        subtitle_(std::move(subtitle)),
        x_(std::move(x)),
        y_(std::move(y)) {}

  // Pixel positions; NaN when the value cannot be placed (so the caller skips
  // the point). Values far outside the axes are pulled in to a finite
  // distance: the clip path hides them, and the SVG stays readable.
  double px(double x) const { return place(x, x_, kLeft, kLeft + kPlotWidth); }
  double py(double y) const { return place(y, y_, kTop + kPlotHeight, kTop); }
  bool placed(const Point& p) const { return std::isfinite(px(p.first)) && std::isfinite(py(p.second)); }

  void polyline(const std::vector<Point>& points, const std::string& colour, double width, const char* dash,
                const std::string& tooltip) {
    std::string coords;
    for (const auto& p : points) {
      if (!placed(p)) continue;
      coords += (coords.empty() ? "" : " ") + coord(px(p.first)) + "," + coord(py(p.second));
    }
    if (coords.empty()) return;
    lines_ << "<polyline class=\"mark\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"" << width
           << "\" stroke-linejoin=\"round\"" << dash_attribute(dash) << " points=\"" << coords << "\">"
           << tooltip_element(tooltip) << "</polyline>\n";
  }

  void dot(const Point& p, const std::string& colour, double radius, bool filled, const std::string& tooltip) {
    if (!placed(p)) return;
    marks_ << "<circle class=\"mark\" cx=\"" << coord(px(p.first)) << "\" cy=\"" << coord(py(p.second)) << "\" r=\""
           << radius << "\" fill=\"" << (filled ? colour : "white") << "\" stroke=\"" << colour
           << "\" stroke-width=\"1.5\">" << tooltip_element(tooltip) << "</circle>\n";
  }

  void cross(const Point& p, const std::string& colour, const std::string& tooltip) {
    if (!placed(p)) return;
    const double x = px(p.first), y = py(p.second), r = 5;
    marks_ << "<path class=\"mark\" stroke=\"" << colour << "\" stroke-width=\"2.5\" d=\"M" << coord(x - r) << ","
           << coord(y - r) << " L" << coord(x + r) << "," << coord(y + r) << " M" << coord(x - r) << "," << coord(y + r)
           << " L" << coord(x + r) << "," << coord(y - r) << "\">" << tooltip_element(tooltip) << "</path>\n";
  }

  void square(const Point& p, const std::string& colour, const std::string& tooltip) {
    if (!placed(p)) return;
    const double half = 4.5;
    marks_ << "<rect class=\"mark\" x=\"" << coord(px(p.first) - half) << "\" y=\"" << coord(py(p.second) - half)
           << "\" width=\"" << 2 * half << "\" height=\"" << 2 * half << "\" fill=\"white\" stroke=\"" << colour
           << "\" stroke-width=\"1.8\">" << tooltip_element(tooltip) << "</rect>\n";
  }

  // A vertical bar from lo to hi with caps: the spread across seeds.
  void whisker(double x, double lo, double hi, const std::string& colour, const std::string& tooltip) {
    const double cx = px(x), y0 = py(lo), y1 = py(hi);
    if (!std::isfinite(cx) || !std::isfinite(y0) || !std::isfinite(y1)) return;
    marks_ << "<path class=\"mark\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" d=\"M" << coord(cx)
           << "," << coord(y0) << " L" << coord(cx) << "," << coord(y1) << " M" << coord(cx - 5) << "," << coord(y0)
           << " L" << coord(cx + 5) << "," << coord(y0) << " M" << coord(cx - 5) << "," << coord(y1) << " L"
           << coord(cx + 5) << "," << coord(y1) << "\">" << tooltip_element(tooltip) << "</path>\n";
  }

  // The recommended batch size: a band behind the data and a label above the
  // plot, where it cannot cover a point.
  void highlight_batch(std::int64_t batch_size) {
    const double x = px(static_cast<double>(batch_size));
    if (!std::isfinite(x)) return;
    under_ << "<rect class=\"recommended-band\" x=\"" << coord(x - 9) << "\" y=\"" << coord(kTop)
           << "\" width=\"18\" height=\"" << kPlotHeight << "\" fill=\"" << colour::orange
           << "\" fill-opacity=\"0.22\"/>\n"
           << "<line x1=\"" << coord(x) << "\" x2=\"" << coord(x) << "\" y1=\"" << coord(kTop) << "\" y2=\""
           << coord(kTop + kPlotHeight) << "\" stroke=\"" << colour::orange << "\" stroke-width=\"2\"/>\n";
    // Kept over the plot (not over the tick labels) when the band is at an edge.
    const std::string label = "recommended " + integer(batch_size);
    const double half_width_px = 3.6 * static_cast<double>(label.size());
    const double label_x = std::clamp(x, kLeft + half_width_px, kLeft + kPlotWidth - half_width_px);
    labels_ << "<text class=\"annotation\" x=\"" << coord(label_x) << "\" y=\"" << coord(kTop - 6)
            << "\" text-anchor=\"middle\" fill=\"#9a6a00\">" << label << "</text>\n";
    legend({LegendEntry::Symbol::band, colour::orange, "recommended (" + integer(batch_size) + ")"});
  }

  // A horizontal reference (capacity, target loss), labelled at its left end:
  // loss curves end on the right, and the probe's failures sit at the right.
  void reference_line(double y, const std::string& colour, const char* dash, const std::string& label) {
    const double cy = py(y);
    if (!std::isfinite(cy)) return;
    under_ << "<line x1=\"" << coord(kLeft) << "\" x2=\"" << coord(kLeft + kPlotWidth) << "\" y1=\"" << coord(cy)
           << "\" y2=\"" << coord(cy) << "\" stroke=\"" << colour << "\" stroke-width=\"1.8\"" << dash_attribute(dash)
           << "/>\n";
    if (cy >= kTop - 1 && cy <= kTop + kPlotHeight + 1) {
      labels_ << "<text class=\"annotation\" x=\"" << coord(kLeft + 6) << "\" y=\"" << coord(cy - 5) << "\" fill=\""
              << colour << "\" stroke=\"white\" stroke-width=\"3\" "
              << "paint-order=\"stroke\">" << esc(label) << "</text>\n";
    }
  }

  // The same, upright: a batch size worth pointing at that is not the recommendation.
  void reference_batch(std::int64_t batch_size, const std::string& colour, const std::string& label) {
    const double x = px(static_cast<double>(batch_size));
    if (!std::isfinite(x)) return;
    under_ << "<line x1=\"" << coord(x) << "\" x2=\"" << coord(x) << "\" y1=\"" << coord(kTop) << "\" y2=\""
           << coord(kTop + kPlotHeight) << "\" stroke=\"" << colour << "\" stroke-width=\"1.5\""
           << dash_attribute("2 3") << "/>\n";
    legend({LegendEntry::Symbol::dotted_line, colour, label});
  }

  void legend(LegendEntry entry) { legend_.push_back(std::move(entry)); }
  void legend_heading(std::string heading) { legend_heading_ = std::move(heading); }

  void write(std::ostream& out) const {
    const double rows = static_cast<double>(legend_.size()) + (legend_heading_.empty() ? 0 : 1);
    const double height = std::max(kTop + kPlotHeight + kBottom, kTop + rows * kLegendRow + 12);
    const double bottom = kTop + kPlotHeight;
    out << "<svg class=\"chart\" data-chart=\"" << name_ << "\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "
        << kWidth << " " << coord(height) << "\" width=\"" << kWidth << "\" height=\"" << coord(height)
        << "\" role=\"img\" aria-labelledby=\"chart-" << name_ << "-title\">\n"
        << "<title id=\"chart-" << name_ << "-title\">" << esc(title_) << (subtitle_.empty() ? "" : ": ")
        << esc(subtitle_)
        << "</title>\n"
        // Lines stop at the frame; points get a little more, so a dot on the edge shows whole.
        << "<defs><clipPath id=\"clip-" << name_ << "\"><rect x=\"" << coord(kLeft) << "\" y=\"" << coord(kTop)
        << "\" width=\"" << coord(kPlotWidth) << "\" height=\"" << coord(kPlotHeight) << "\"/></clipPath>"
        << "<clipPath id=\"clip-" << name_ << "-points\"><rect x=\"" << coord(kLeft - kClipMargin) << "\" y=\""
        << coord(kTop - kClipMargin) << "\" width=\"" << coord(kPlotWidth + 2 * kClipMargin) << "\" height=\""
        << coord(kPlotHeight + 2 * kClipMargin) << "\"/></clipPath></defs>\n"
        << "<text class=\"chart-title\" x=\"" << coord(kLeft) << "\" y=\"18\">" << esc(title_)
        << "<tspan class=\"chart-subtitle\" dx=\"12\">" << esc(subtitle_) << "</tspan></text>\n";
    for (std::size_t i = 0; i < y_.ticks.size(); ++i) {
      const double y = py(y_.ticks[i]);
      if (!std::isfinite(y)) continue;
      out << "<line class=\"grid\" x1=\"" << coord(kLeft) << "\" x2=\"" << coord(kLeft + kPlotWidth) << "\" y1=\""
          << coord(y) << "\" y2=\"" << coord(y) << "\"/>"
          << "<text class=\"tick\" x=\"" << coord(kLeft - 7) << "\" y=\"" << coord(y + 4) << "\" text-anchor=\"end\">"
          << esc(y_.labels[i]) << "</text>\n";
    }
    for (std::size_t i = 0; i < x_.ticks.size(); ++i) {
      const double x = px(x_.ticks[i]);
      if (!std::isfinite(x)) continue;
      out << "<line class=\"grid\" x1=\"" << coord(x) << "\" x2=\"" << coord(x) << "\" y1=\"" << coord(kTop)
          << "\" y2=\"" << coord(bottom) << "\"/>"
          << "<line class=\"axis\" x1=\"" << coord(x) << "\" x2=\"" << coord(x) << "\" y1=\"" << coord(bottom)
          << "\" y2=\"" << coord(bottom + 5) << "\"/>"
          << "<text class=\"tick\" x=\"" << coord(x) << "\" y=\"" << coord(bottom + 19) << "\" text-anchor=\"middle\">"
          << esc(x_.labels[i]) << "</text>\n";
    }
    out << "<path class=\"axis\" fill=\"none\" d=\"M" << coord(kLeft) << "," << coord(kTop) << " L" << coord(kLeft)
        << "," << coord(bottom) << " L" << coord(kLeft + kPlotWidth) << "," << coord(bottom) << "\"/>\n"
        << "<text class=\"axis-title\" x=\"" << coord(kLeft + kPlotWidth / 2) << "\" y=\"" << coord(bottom + 42)
        << "\" text-anchor=\"middle\">" << esc(x_.title) << "</text>\n"
        << "<text class=\"axis-title\" transform=\"translate(18," << coord(kTop + kPlotHeight / 2)
        << ") rotate(-90)\" text-anchor=\"middle\">" << esc(y_.title) << "</text>\n"
        << "<g clip-path=\"url(#clip-" << name_ << ")\">\n"
        << under_.str() << lines_.str() << "</g>\n"
        << "<g clip-path=\"url(#clip-" << name_ << "-points)\">\n"
        << marks_.str() << "</g>\n"
        << labels_.str();
    write_legend(out);
    out << "</svg>\n";
  }

 private:
  static double place(double v, const Axis& axis, double from_px, double to_px) {
    if (!std::isfinite(v) || (is_log(axis.scale) && v <= 0)) return kNaN;
    const double u = axis.scale == Scale::log2 ? std::log2(v) : axis.scale == Scale::log10 ? std::log10(v) : v;
    const double t = (u - axis.lo) / (axis.hi - axis.lo);
    if (!std::isfinite(t)) return kNaN;
    return from_px + std::clamp(t, -4.0, 5.0) * (to_px - from_px);
  }

  static std::string dash_attribute(const char* dash) {
    return dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string();
  }

  static std::string tooltip_element(const std::string& tooltip) {
    return tooltip.empty() ? std::string() : "<title>" + esc(tooltip) + "</title>";
  }

  void write_legend(std::ostream& out) const {
    const double x = kLeft + kPlotWidth + 22;
    double y = kTop + 6;
    if (!legend_heading_.empty()) {
      out << "<text class=\"legend-heading\" x=\"" << coord(x) << "\" y=\"" << coord(y + 4) << "\">"
          << esc(legend_heading_) << "</text>\n";
      y += kLegendRow;
    }
    for (const auto& e : legend_) {
      const std::string c = e.colour;
      const double x1 = x + 26;
      const double mid = x + 13;
      out << "<g class=\"legend-entry\">";
      switch (e.symbol) {
        case LegendEntry::Symbol::line:
        case LegendEntry::Symbol::dashed_line:
        case LegendEntry::Symbol::dotted_line:
        case LegendEntry::Symbol::line_dot:
          out << "<line x1=\"" << coord(x) << "\" x2=\"" << coord(x1) << "\" y1=\"" << coord(y) << "\" y2=\""
              << coord(y) << "\" stroke=\"" << c << "\" stroke-width=\"" << e.width << "\""
              << dash_attribute(e.symbol == LegendEntry::Symbol::dashed_line   ? "6 4"
                                : e.symbol == LegendEntry::Symbol::dotted_line ? "2 3"
                                                                               : nullptr)
              << "/>";
          if (e.symbol == LegendEntry::Symbol::line_dot) {
            out << "<circle cx=\"" << coord(mid) << "\" cy=\"" << coord(y) << "\" r=\"4\" fill=\"" << c << "\"/>";
          }
          break;
        case LegendEntry::Symbol::dot:
          out << "<circle cx=\"" << coord(mid) << "\" cy=\"" << coord(y) << "\" r=\"4.5\" fill=\"" << c << "\"/>";
          break;
        case LegendEntry::Symbol::cross:
          out << "<path stroke=\"" << c << "\" stroke-width=\"2.5\" d=\"M" << coord(mid - 5) << "," << coord(y - 5)
              << " L" << coord(mid + 5) << "," << coord(y + 5) << " M" << coord(mid - 5) << "," << coord(y + 5) << " L"
              << coord(mid + 5) << "," << coord(y - 5) << "\"/>";
          break;
        case LegendEntry::Symbol::square:
          out << "<rect x=\"" << coord(mid - 4.5) << "\" y=\"" << coord(y - 4.5)
              << "\" width=\"9\" height=\"9\" fill=\"white\" stroke=\"" << c << "\" stroke-width=\"1.8\"/>";
          break;
        case LegendEntry::Symbol::whisker:
          out << "<path fill=\"none\" stroke=\"" << c << "\" stroke-width=\"1.5\" d=\"M" << coord(mid) << ","
              << coord(y - 7) << " L" << coord(mid) << "," << coord(y + 7) << " M" << coord(mid - 5) << ","
              << coord(y - 7) << " L" << coord(mid + 5) << "," << coord(y - 7) << " M" << coord(mid - 5) << ","
              << coord(y + 7) << " L" << coord(mid + 5) << "," << coord(y + 7) << "\"/>";
          break;
        case LegendEntry::Symbol::band:
          out << "<rect x=\"" << coord(mid - 9) << "\" y=\"" << coord(y - 8) << "\" width=\"18\" height=\"16\" fill=\""
              << c << "\" fill-opacity=\"0.22\"/><line x1=\"" << coord(mid) << "\" x2=\"" << coord(mid) << "\" y1=\""
              << coord(y - 8) << "\" y2=\"" << coord(y + 8) << "\" stroke=\"" << c << "\" stroke-width=\"2\"/>";
          break;
      }
      out << "<text class=\"legend-label\" x=\"" << coord(x1 + 8) << "\" y=\"" << coord(y + 4) << "\">" << esc(e.label)
          << "</text></g>\n";
      y += kLegendRow;
    }
  }

  std::string name_, title_, subtitle_;
  Axis x_, y_;
  std::ostringstream under_;   // bands and reference lines, beneath the data
  std::ostringstream lines_;   // the data, class "mark" (what the page's check counts): lines
  std::ostringstream marks_;   // and points, drawn over the lines
  std::ostringstream labels_;  // annotations, outside the clip path
  std::vector<LegendEntry> legend_;
  std::string legend_heading_;
};

// ---------------------------------------------------------------------------
// The charts. Each returns false, writing nothing, when the report has no
// data for it; the caller says so in words instead.

std::optional<std::int64_t> recommended_batch(const Report& r) {
  if (r.recommendation && r.recommendation->recommends() && *r.recommendation->batch_size > 0) {
    return r.recommendation->batch_size;
  }
  return std::nullopt;
}

// The sweep's per-batch summaries, sorted; rebuilt from the arms when a
// report carries arms without summaries, so the chart still has its points.
std::vector<BatchSummary> summaries_of(const SweepResult& sweep) {
  std::vector<BatchSummary> summaries = sweep.summaries;
  if (summaries.empty()) {
    std::map<std::int64_t, std::vector<const SweepArm*>> by_batch;
    for (const auto& arm : sweep.arms) by_batch[arm.batch_size].push_back(&arm);
    for (const auto& [batch_size, arms] : by_batch) {
      BatchSummary s;
      s.batch_size = batch_size;
      s.arms = static_cast<int>(arms.size());
      std::vector<double> rates;
      for (const auto* arm : arms) {
        s.learning_rate = arm->learning_rate;
        s.completed += arm->status == ArmStatus::completed ? 1 : 0;
        s.peak_bytes = std::max(s.peak_bytes, arm->peak_bytes);
        if (arm->samples_per_s && std::isfinite(*arm->samples_per_s)) rates.push_back(*arm->samples_per_s);
      }
      if (!rates.empty()) s.samples_per_s = spread_of(rates);
      summaries.push_back(s);
    }
  }
  std::sort(summaries.begin(), summaries.end(),
            [](const BatchSummary& a, const BatchSummary& b) { return a.batch_size < b.batch_size; });
  return summaries;
}

bool throughput_chart(std::ostream& out, const Report& r) {
  if (!r.sweep) return false;
  const auto rec = recommended_batch(r);
  Extent x(Scale::log2), y(Scale::linear);
  std::vector<const BatchSummary*> points;
  const auto summaries = summaries_of(*r.sweep);
  for (const auto& s : summaries) {
    if (s.batch_size <= 0 || !s.samples_per_s || !std::isfinite(s.samples_per_s->mean)) continue;
    points.push_back(&s);
    x.add(static_cast<double>(s.batch_size));
    y.add(s.samples_per_s->mean);
    y.add(s.samples_per_s->min);
    y.add(s.samples_per_s->max);
  }
  if (points.empty()) return false;
  if (rec) x.add(static_cast<double>(*rec));
  // Says how many seeds the means are over: those that measured, not those asked for.
  int seeds = 1;
  bool same_seeds = true;
  for (const auto* s : points) {
    same_seeds = same_seeds && s->samples_per_s->n == points.front()->samples_per_s->n;
    seeds = std::max(seeds, s->samples_per_s->n);
  }
  const std::string subtitle = seeds > 1 ? std::string("mean over ") + (same_seeds ? "" : "up to ") +
                                               std::to_string(seeds) + " seeds, whiskers min to max"
                                         : "";
  SvgPlot plot("throughput", "Throughput", subtitle,
               log2_axis(x, "batch size (samples, log2 scale)", SvgPlot::kPlotWidth),
               linear_axis(y, "throughput (samples/s)", true, 5));
  if (rec) plot.highlight_batch(*rec);
  bool any_whisker = false;
  std::vector<Point> line;
  for (const auto* s : points) {
    const auto& rate = *s->samples_per_s;
    const double b = static_cast<double>(s->batch_size);
    line.emplace_back(b, rate.mean);
    if (rate.n > 1 && rate.max > rate.min) {
      plot.whisker(b, rate.min, rate.max, colour::blue,
                   "batch " + integer(s->batch_size) + ": " + num(rate.min, "%.0f") + " to " + num(rate.max, "%.0f") +
                       " samples/s over " + std::to_string(rate.n) + " seeds");
      any_whisker = true;
    }
  }
  plot.polyline(line, colour::blue, 2, nullptr, "");
  for (const auto* s : points) {
    plot.dot({static_cast<double>(s->batch_size), s->samples_per_s->mean}, colour::blue, 4, true,
             "batch " + integer(s->batch_size) + ": " + num(s->samples_per_s->mean, "%.0f") + " samples/s");
  }
  plot.legend({LegendEntry::Symbol::line_dot, colour::blue, seeds > 1 ? "mean samples/s" : "samples/s"});
  if (any_whisker) plot.legend({LegendEntry::Symbol::whisker, colour::blue, "min to max over seeds"});
  plot.write(out);
  return true;
}

bool memory_chart(std::ostream& out, const Report& r) {
  const auto rec = recommended_batch(r);
  Extent x(Scale::log2), y_bytes(Scale::linear);
  bool any_data = false;
  const auto add = [&](std::int64_t batch_size, std::uint64_t peak_bytes) {
    if (batch_size <= 0 || peak_bytes == 0) return;
    x.add(static_cast<double>(batch_size));
    y_bytes.add(static_cast<double>(peak_bytes));
    any_data = true;
  };
  if (r.probe) {
    for (const auto& t : r.probe->trials) {
      if (t.outcome == TrialOutcome::fits || t.outcome == TrialOutcome::out_of_memory) add(t.batch_size, t.peak_bytes);
    }
  }
  if (r.sweep) {
    for (const auto& a : r.sweep->arms) add(a.batch_size, a.peak_bytes);
  }
  if (!any_data) return false;
  if (rec) x.add(static_cast<double>(*rec));
  // A capacity far above every measured peak (a CPU's whole free memory)
  // would flatten the data to the axis: it is then named, not drawn.
  const double largest_peak = y_bytes.hi;
  const std::uint64_t capacity_bytes = r.probe ? r.probe->capacity_bytes : 0;
  const bool capacity_drawn = capacity_bytes > 0 && double(capacity_bytes) <= 4.0 * largest_peak;
  if (capacity_drawn) y_bytes.add(static_cast<double>(capacity_bytes));

  const ByteUnit unit = byte_unit_for(y_bytes.hi);
  Extent y(Scale::linear);
  y.add(y_bytes.lo / unit.bytes);
  y.add(y_bytes.hi / unit.bytes * 1.04);  // room for the capacity label
  const Axis x_axis = log2_axis(x, "batch size (samples, log2 scale)", SvgPlot::kPlotWidth);
  std::string subtitle = r.probe ? "probe trials, sweep arms and the fitted model" : "sweep arms";
  if (capacity_bytes > 0 && !capacity_drawn) {
    subtitle += "; the capacity, " + format_bytes(capacity_bytes) + ", is " +
                num(double(capacity_bytes) / largest_peak, "%.0f") + "\xC3\x97 the largest peak: off the scale";
  }
  SvgPlot plot("memory", "Peak memory", subtitle,
               x_axis, linear_axis(y, std::string("peak memory (") + unit.name + ")", true, 5));
  const auto in_unit = [&](double bytes) { return bytes / unit.bytes; };

  if (rec) plot.highlight_batch(*rec);
  if (capacity_drawn) {
    plot.reference_line(in_unit(static_cast<double>(capacity_bytes)), colour::vermillion, "6 4",
                        "capacity " + format_bytes(capacity_bytes));
    plot.legend({LegendEntry::Symbol::dashed_line, colour::vermillion, "capacity"});
  }
  if (r.probe && r.probe->memory_model) {
    const MemoryModel& m = *r.probe->memory_model;
    if (m.points >= 2 && std::isfinite(m.fixed_bytes) && std::isfinite(m.per_sample_bytes)) {
      // Straight in bytes, curved on the log2 batch axis: sample it densely.
      std::vector<Point> line;
      for (int i = 0; i <= 96; ++i) {
        const double b = std::exp2(x_axis.lo + (x_axis.hi - x_axis.lo) * i / 96.0);
        line.emplace_back(b, in_unit(m.fixed_bytes + m.per_sample_bytes * b));
      }
      plot.polyline(line, colour::purple, 1.8, nullptr,
                    "model: " + format_bytes(static_cast<std::uint64_t>(std::max(0.0, m.fixed_bytes))) + " + " +
                        num(m.per_sample_bytes / 1024, "%.2f") + " KiB per sample, R^2 " + num(m.r_squared, "%.4f"));
      plot.legend({LegendEntry::Symbol::line, colour::purple, "memory model"});
    }
  }
  bool any_arm = false;
  if (r.sweep) {
    for (const auto& a : r.sweep->arms) {
      if (a.batch_size <= 0 || a.peak_bytes == 0) continue;
      plot.square({static_cast<double>(a.batch_size), in_unit(static_cast<double>(a.peak_bytes))}, colour::green,
                  "sweep batch " + integer(a.batch_size) + " seed " + std::to_string(a.seed) + ": " +
                      format_bytes(a.peak_bytes));
      any_arm = true;
    }
  }
  // Failures last: they crowd against the last fits at the edge, and must show.
  bool any_fit = false, any_oom = false;
  if (r.probe) {
    for (const auto outcome : {TrialOutcome::fits, TrialOutcome::out_of_memory}) {
      for (const auto& t : r.probe->trials) {
        if (t.outcome != outcome || t.batch_size <= 0 || t.peak_bytes == 0) continue;
        const Point p{static_cast<double>(t.batch_size), in_unit(static_cast<double>(t.peak_bytes))};
        if (outcome == TrialOutcome::fits) {
          plot.dot(p, colour::blue, 4.5, true,
                   "probe batch " + integer(t.batch_size) + " fits: " + format_bytes(t.peak_bytes));
          any_fit = true;
        } else {
          plot.cross(p, colour::vermillion,
                     "probe batch " + integer(t.batch_size) + " out of memory at " + format_bytes(t.peak_bytes));
          any_oom = true;
        }
      }
    }
  }
  if (any_fit) plot.legend({LegendEntry::Symbol::dot, colour::blue, "probe: fits"});
  if (any_oom) plot.legend({LegendEntry::Symbol::cross, colour::vermillion, "probe: out of memory"});
  if (any_arm) plot.legend({LegendEntry::Symbol::square, colour::green, "sweep arm peak"});
  plot.write(out);
  return true;
}

enum class LossAxis { samples, seconds };

bool loss_chart(std::ostream& out, const Report& r, LossAxis along) {
  if (!r.sweep) return false;
  const SweepResult& sweep = *r.sweep;
  const auto rec = recommended_batch(r);
  const auto x_of = [along](const EvalPoint& e) {
    return along == LossAxis::samples ? static_cast<double>(e.samples) : e.seconds;
  };
  // A diverged arm's losses would flatten every other curve: the y range
  // comes from the completed arms when there are any (the rest are clipped).
  Extent x(Scale::linear), y_completed(Scale::linear), y_all(Scale::linear);
  std::vector<std::int64_t> batch_sizes;
  for (const auto& a : sweep.arms) {
    bool drawn = false;
    for (const auto& e : a.evaluations) {
      if (!std::isfinite(x_of(e)) || !std::isfinite(e.loss)) continue;
      x.add(x_of(e));
      y_all.add(e.loss);
      if (a.status == ArmStatus::completed) y_completed.add(e.loss);
      drawn = true;
    }
    if (drawn) batch_sizes.push_back(a.batch_size);
  }
  if (batch_sizes.empty()) return false;
  std::sort(batch_sizes.begin(), batch_sizes.end());
  batch_sizes.erase(std::unique(batch_sizes.begin(), batch_sizes.end()), batch_sizes.end());
  Extent y = y_completed.empty() ? y_all : y_completed;
  if (sweep.target_loss) y.add(*sweep.target_loss);
  x.add(0.0);

  const bool by_samples = along == LossAxis::samples;
  SvgPlot plot(by_samples ? "loss-vs-samples" : "loss-vs-seconds",
               by_samples ? "Validation loss against samples seen" : "Validation loss against training time",
               sweep.seeds > 1 ? "one line per arm; seeds share their batch size's colour" : "one line per arm",
               linear_axis(x, by_samples ? "samples seen" : "training time (s, evaluations excluded)", true, 8),
               linear_axis(y, "validation loss", false, 5));
  plot.legend_heading("batch size");
  // The recommended batch size is drawn in the orange that marks it in every
  // chart, thicker and on top; the others keep their place on viridis.
  const auto colour_of = [&](std::int64_t batch_size) {
    const auto at = std::lower_bound(batch_sizes.begin(), batch_sizes.end(), batch_size) - batch_sizes.begin();
    return batch_colour(static_cast<std::size_t>(at), batch_sizes.size());
  };
  if (sweep.target_loss) {
    plot.reference_line(*sweep.target_loss, colour::black, "6 4", "target " + num(sweep.target_loss, "%.4g"));
  }
  // The recommended arms last, so they lie on top of the rest.
  for (const bool recommended_pass : {false, true}) {
    for (const auto& a : sweep.arms) {
      const bool is_rec = rec && a.batch_size == *rec;
      if (is_rec != recommended_pass) continue;
      std::vector<Point> line;
      for (const auto& e : a.evaluations) line.emplace_back(x_of(e), e.loss);
      const std::string colour = is_rec ? std::string(colour::orange) : colour_of(a.batch_size);
      const std::string name =
          "batch " + integer(a.batch_size) + ", seed " + std::to_string(a.seed) +
          (a.status == ArmStatus::completed ? "" : " (" + nlohmann::json(a.status).get<std::string>() + ")");
      plot.polyline(line, colour, is_rec ? 3.5 : 1.6, a.status == ArmStatus::completed ? nullptr : "3 3", name);
      for (const auto& p : line) {
        plot.dot(p, colour, is_rec ? 3.8 : 2.6, true, name + ": loss " + num(p.second, "%.4f"));
      }
    }
  }
  for (const auto b : batch_sizes) {
    const bool is_rec = rec && b == *rec;
    plot.legend({LegendEntry::Symbol::line, is_rec ? std::string(colour::orange) : colour_of(b),
                 integer(b) + (is_rec ? " (recommended)" : ""), is_rec ? 4.0 : 2.0});
  }
  if (sweep.target_loss) plot.legend({LegendEntry::Symbol::dashed_line, colour::black, "target loss"});
  plot.write(out);
  return true;
}

bool time_to_target_chart(std::ostream& out, const Report& r) {
  if (!r.recommendation || r.recommendation->predictions.empty()) return false;
  const Recommendation& rec = *r.recommendation;
  std::vector<BatchPrediction> predictions = rec.predictions;
  std::sort(predictions.begin(), predictions.end(),
            [](const BatchPrediction& a, const BatchPrediction& b) { return a.batch_size < b.batch_size; });
  Extent x(Scale::log2), y(Scale::log10);
  bool any = false;
  for (const auto& p : predictions) {
    if (p.batch_size <= 0) continue;
    for (const auto& v : {p.seconds_to_target, p.measured_seconds_to_target}) {
      if (v && std::isfinite(*v)) {
        x.add(static_cast<double>(p.batch_size));
        y.add(*v);
        any = true;
      }
    }
  }
  if (!any) return false;
  const std::int64_t chosen = recommended_batch(r).value_or(0);
  if (chosen > 0) x.add(static_cast<double>(chosen));
  if (rec.max_fit_batch > 0) x.add(static_cast<double>(rec.max_fit_batch));
  // Predicted times climb by decades past the critical batch, and measured
  // ones can sit far below: a linear axis would flatten one of them.
  const bool log_time = y.lo > 0 && y.hi / y.lo > 10;
  SvgPlot plot(
      "time-to-target", "Time to the target loss",
      rec.target_loss ? "target validation loss " + num(rec.target_loss, "%.4g") : "",
      log2_axis(x, "batch size (samples, log2 scale)", SvgPlot::kPlotWidth),
      log_time ? log10_axis(y, "time to target (s, log scale)") : linear_axis(y, "time to target (s)", true, 5));
  if (chosen > 0) plot.highlight_batch(chosen);
  if (rec.max_fit_batch > 0 && rec.max_fit_batch != chosen) {
    plot.reference_batch(rec.max_fit_batch, colour::grey,
                         (rec.max_fit_label.find("verified") != std::string::npos ? "largest verified ("
                                                                                   : "largest that fits (") +
                             integer(rec.max_fit_batch) + ")");
  }
  std::vector<Point> predicted;
  bool any_measured = false;
  for (const auto& p : predictions) {
    if (p.seconds_to_target) predicted.emplace_back(static_cast<double>(p.batch_size), *p.seconds_to_target);
  }
  plot.polyline(predicted, colour::blue, 2, nullptr, "predicted T(B) = S(B) t(B)");
  for (const auto& p : predicted) {
    plot.dot(p, colour::blue, 2.5, true,
             "batch " + num(p.first, "%.0f") + ": " + format_seconds(p.second) + " predicted");
  }
  for (const auto& p : predictions) {
    if (!p.measured_seconds_to_target) continue;
    const Point m{static_cast<double>(p.batch_size), *p.measured_seconds_to_target};
    if (!plot.placed(m)) continue;
    plot.dot(m, colour::vermillion, 5, true,
             "batch " + integer(p.batch_size) + ": " + format_seconds(m.second) + " measured");
    any_measured = true;
  }
  if (!predicted.empty()) plot.legend({LegendEntry::Symbol::line_dot, colour::blue, "predicted"});
  if (any_measured) {
    plot.legend({LegendEntry::Symbol::dot, colour::vermillion, "measured (sweep, interpolated crossing)"});
  }
  plot.write(out);
  return true;
}

// ---------------------------------------------------------------------------
// The page.

constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d1d1d; background: #fff; max-width: 1100px; margin: 0 auto; padding: 24px 28px 40px;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.subtitle { color: #555; margin: 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
            font-size: 13px; }
pre { background: #f5f5f5; padding: 10px 12px; border-radius: 4px; white-space: pre-wrap; word-break: break-all; }
.recommendation { background: #fff7e6; border: 1px solid #f0d9a8; border-left: 6px solid #E69F00;
                  border-radius: 6px; padding: 4px 22px 14px; margin-top: 22px; }
.recommendation h2 { border: none; margin-top: 14px; }
.recommendation.none { background: #f6f6f6; border-color: #ddd; border-left-color: #999; }
.headline { font-size: 30px; margin: 0 0 10px; }
.headline strong { font-size: 38px; }
.headline .accumulation { font-size: 18px; color: #444; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; }
dl.facts ul { margin: 2px 0; padding-left: 20px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 13px; }
.badge.high { background: #007a5a; } .badge.medium { background: #b07800; } .badge.low { background: #c24d00; }
.badge.other { background: #666; }
.reasons li { margin: 3px 0; }
figure { margin: 18px 0 26px; }
svg.chart { display: block; max-width: 100%; height: auto; background: #fff; }
svg.chart text { font-family: inherit; font-size: 12px; fill: #333; }
svg.chart .chart-title { font-size: 15px; font-weight: 600; fill: #111; }
svg.chart .chart-subtitle { font-size: 12px; font-weight: 400; fill: #666; }
svg.chart .tick { font-size: 11.5px; fill: #444; }
svg.chart .axis-title { font-size: 12.5px; fill: #222; }
svg.chart .annotation { font-size: 11.5px; font-weight: 600; }
svg.chart .legend-heading { font-weight: 600; }
svg.chart .grid { stroke: #e8e8e8; stroke-width: 1; }
svg.chart .axis { stroke: #555; stroke-width: 1; }
.missing { color: #666; font-style: italic; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13.5px; }
th, td { white-space: nowrap; padding: 4px 10px; border-bottom: 1px solid #e4e4e4; text-align: right;
         vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; white-space: normal; }
td.text, th.text { text-align: left; }
td .range { display: block; font-size: 11.5px; color: #666; font-weight: 400; }
tr.recommended td { background: #fff1d0; font-weight: 600; }
.tag { display: inline-block; font-size: 11px; font-weight: 600; color: #7a5200; background: #ffe3a3;
       border-radius: 8px; padding: 0 6px; margin-left: 4px; }
.outcome-fits { color: #007a5a; } .outcome-bad { color: #c24d00; font-weight: 600; }
.warning { color: #a33f00; font-weight: 600; }
td.message { white-space: normal; }
.message { max-width: 520px; word-break: break-word; font-size: 12.5px; color: #444; }
footer { margin-top: 40px; border-top: 1px solid #ddd; padding-top: 10px; color: #555; font-size: 13px; }
)css";

// Counts the charts that drew something (the check in html_renders.sh reads
// these from the DOM); the page's only script.
constexpr const char* kScript = R"js(
window.addEventListener('load', function () {
  var charts = document.querySelectorAll('svg.chart');
  var rendered = 0;
  charts.forEach(function (svg) {
    try {
      var box = svg.getBBox();
      if (!(box.width > 0 && box.height > 0)) return;
      var marks = svg.querySelectorAll('.mark');
      for (var i = 0; i < marks.length; ++i) {
        var mark = marks[i].getBBox();
        if (mark.width > 0 || mark.height > 0) { rendered += 1; return; }
      }
    } catch (e) { /* not rendered: not counted */ }
  });
  document.body.dataset.chartsTotal = String(charts.length);
  document.body.dataset.chartsRendered = String(rendered);
});
)js";

// A definition-list row, escaped; skipped when the value is empty.
void fact(std::ostream& out, const char* name, const std::string& value) {
  if (value.empty()) return;
  out << "<dt>" << name << "</dt><dd>" << esc(value) << "</dd>\n";
}

void write_header(std::ostream& out, const Report& r) {
  std::string subtitle;
  if (r.machine) subtitle = machine_label(*r.machine);
  if (!r.date.empty()) subtitle += (subtitle.empty() ? "" : " \xC2\xB7 ") + r.date;
  out << "<header>\n<h1>" << esc(r.workload.model.empty() ? "(unnamed model)" : r.workload.model) << " on "
      << esc(r.workload.data.empty() ? "(unnamed data)" : r.workload.data) << "</h1>\n";
  if (!subtitle.empty()) out << "<p class=\"subtitle\">" << esc(subtitle) << "</p>\n";
  out << "</header>\n";
}

void write_recommendation(std::ostream& out, const Report& r) {
  if (!r.recommendation) {
    out << "<section class=\"recommendation none\" id=\"recommendation\">\n<h2>Recommendation</h2>\n"
        << "<p>There is no recommendation in this report: it holds the measurements below, without a choice "
           "made from them.</p>\n</section>\n";
    return;
  }
  const Recommendation& rec = *r.recommendation;
  if (!rec.recommends()) {
    // No answer without evidence: say so plainly, and why.
    out << "<section class=\"recommendation none\" id=\"recommendation\">\n<h2>Recommendation</h2>\n"
        << "<p class=\"headline\"><strong>No recommendation</strong></p>\n"
        << "<p>No batch size has the evidence for one (objective " << esc(rec.objective) << ").</p>\n";
    if (!rec.reasons.empty()) {
      out << "<h3>Why</h3>\n<ul class=\"reasons\">\n";
      for (const auto& reason : rec.reasons) out << "<li>" << esc(reason) << "</li>\n";
      out << "</ul>\n";
    }
    out << "</section>\n";
    return;
  }
  out << "<section class=\"recommendation\" id=\"recommendation\">\n<h2>Recommendation</h2>\n"
      << "<p class=\"headline\">Batch size <strong>" << *rec.batch_size << "</strong>";
  if (rec.accumulation_steps.value_or(1) > 1 && rec.micro_batch_size) {
    out << " <span class=\"accumulation\">= micro-batch " << *rec.micro_batch_size << " \xC3\x97 "
        << *rec.accumulation_steps << " accumulation steps</span>";
  }
  out << "</p>\n<dl class=\"facts\">\n";
  out << "<dt>learning rate</dt><dd><strong>" << esc(num(rec.learning_rate, "%.4g")) << "</strong>"
      << (rec.learning_rate_rule.empty() ? "" : " (" + esc(rec.learning_rate_rule) + ")") << "</dd>\n";
  fact(out, "objective", rec.objective);
  std::vector<std::string> times;
  const auto finite = [](const std::optional<double>& v) { return v && std::isfinite(*v); };
  if (finite(rec.predicted_seconds_to_target))
    times.push_back(format_seconds(rec.predicted_seconds_to_target) + " predicted");
  if (finite(rec.measured_seconds_to_target))
    times.push_back(format_seconds(rec.measured_seconds_to_target) + " measured (interpolated crossing)");
  std::string time = times.empty() ? "not predicted and not measured" : times.front();
  if (times.size() > 1) time += ", " + times.back();
  if (rec.target_loss) time += " (target validation loss " + num(rec.target_loss, "%.4f") + ")";
  fact(out, "time to target", time);
  std::string largest = integer(rec.max_fit_batch);
  if (rec.max_fit_batch == rec.batch_size) {
    largest += ": the recommendation is " + rec.max_fit_label;
  } else if (rec.max_fit_slowdown && std::isfinite(*rec.max_fit_slowdown)) {
    largest += ": " + num(rec.max_fit_slowdown, "%.2f") + "\xC3\x97 as long to the target (" +
               format_seconds(rec.max_fit_seconds_to_target) + ")";
  } else {
    largest += ": no time-to-target prediction for it";
  }
  fact(out, rec.max_fit_label.c_str(), largest);
  const std::string level =
      rec.confidence == "high" || rec.confidence == "medium" || rec.confidence == "low" ? rec.confidence : "other";
  out << "<dt>confidence</dt><dd><span class=\"badge " << level << "\">"
      << esc(rec.confidence.empty() ? "unknown" : rec.confidence) << "</span>";
  if (!rec.confidence_notes.empty()) {
    out << "<ul>";
    for (const auto& note : rec.confidence_notes) out << "<li>" << esc(note) << "</li>";
    out << "</ul>";
  }
  out << "</dd>\n";
  if (rec.steps_fit) {
    fact(out, "critical batch",
         num(rec.steps_fit->critical_batch, "%.0f") + " (S(B) = S_min (1 + B_crit/B), S_min " +
             num(rec.steps_fit->min_steps, "%.0f") + " steps, R\xC2\xB2 " + num(rec.steps_fit->r_squared, "%.3f") +
             " over " + std::to_string(rec.steps_fit->points) + " sizes)");
  }
  if (rec.step_time_fit) {
    const StepTimeFit& f = *rec.step_time_fit;
    std::string s = num(f.fixed_s * 1e3, "%.3g") + " ms + " + num(f.per_sample_s * 1e6, "%.3g") +
                    " \xC2\xB5s per sample (R\xC2\xB2 " + num(f.r_squared, "%.3f") + ")";
    if (f.saturation_batch) s += "; throughput saturates past batch " + num(f.saturation_batch, "%.0f");
    fact(out, "step time", s);
  }
  if (rec.noise_scale.simple_noise_scale) {
    fact(out, "noise scale",
         "B_simple " + num(rec.noise_scale.simple_noise_scale, "%.0f") + " (" + num(rec.noise_scale.low, "%.0f") +
             " to " + num(rec.noise_scale.high, "%.0f") + ", batches " + integer(rec.noise_scale.small_batch) +
             " and " + integer(rec.noise_scale.large_batch) + ")");
  } else if (!rec.noise_scale.status.empty()) {
    fact(out, "noise scale",
         rec.noise_scale.status + (rec.noise_scale.message.empty() ? "" : ": " + rec.noise_scale.message));
  }
  out << "</dl>\n";
  if (!rec.reasons.empty()) {
    out << "<h3>Why</h3>\n<ul class=\"reasons\">\n";
    for (const auto& reason : rec.reasons) out << "<li>" << esc(reason) << "</li>\n";
    out << "</ul>\n";
  }
  out << "</section>\n";
}

void write_charts(std::ostream& out, const Report& r) {
  out << "<section id=\"charts\">\n<h2>Charts</h2>\n";
  // `missing` is null where an earlier line already said why.
  const auto figure = [&out](bool (*draw)(std::ostream&, const Report&), const Report& report, const char* missing) {
    std::ostringstream svg;
    if (draw(svg, report)) {
      out << "<figure>\n" << svg.str() << "</figure>\n";
    } else if (missing) {
      out << "<p class=\"missing\">" << missing << "</p>\n";
    }
  };
  figure(throughput_chart, r, "No throughput chart: this report has no sweep with measured throughput.");
  figure(memory_chart, r, "No memory chart: this report has neither probe trials nor sweep arms with a peak.");
  figure([](std::ostream& o, const Report& rep) { return loss_chart(o, rep, LossAxis::samples); }, r,
         "No loss charts: this report has no sweep arm with a validation loss.");
  figure([](std::ostream& o, const Report& rep) { return loss_chart(o, rep, LossAxis::seconds); }, r, nullptr);
  if (r.recommendation) {
    figure(time_to_target_chart, r, "No time-to-target chart: the recommendation has no predictions.");
  }
  out << "</section>\n";
}

std::string spread_cell(const std::optional<Spread>& s, const char* format) {
  if (!s || !std::isfinite(s->mean)) return "-";
  std::string cell = num(s->mean, format);
  if (s->n > 1 && s->max > s->min) {
    cell += "<span class=\"range\">" + num(s->min, format) + "\xE2\x80\x93" + num(s->max, format) + "</span>";
  }
  return cell;
}

void write_sweep_tables(std::ostream& out, const Report& r) {
  if (!r.sweep) {
    out << "<h3>Sweep</h3>\n<p class=\"missing\">No sweep in this report.</p>\n";
    return;
  }
  const SweepResult& s = *r.sweep;
  const auto rec = recommended_batch(r);
  out << "<h3>Sweep: per batch size</h3>\n<p>" << esc(s.budget_kind) << " budget " << esc(num(s.budget_value, "%.6g"))
      << " per arm, " << s.seeds << " seed" << (s.seeds == 1 ? "" : "s") << ", " << esc(s.precision)
      << ", learning rate scaling " << esc(s.lr_scaling) << " from batch " << s.base_batch << " at "
      << esc(num(s.base_learning_rate, "%.4g")) << "; validation every " << s.eval_every_samples << " samples on "
      << s.eval_samples << ". Target validation loss " << esc(num(s.target_loss, "%.4f"))
      << (s.target_source.empty() ? "" : " (" + esc(s.target_source) + ")") << ".";
  if (!s.batch_sizes_source.empty()) out << " Batch sizes: " << esc(s.batch_sizes_source) << ".";
  out << "</p>\n";
  if (s.incomplete) out << "<p class=\"warning\">Incomplete: " << esc(s.incomplete_reason) << "</p>\n";
  if (!s.throughput_scan.empty() || !s.throughput_knee.empty()) {
    std::string scan;
    for (const auto& p : s.throughput_scan) {
      scan += (scan.empty() ? "" : ", ") + integer(p.batch_size) + " at " + num(p.samples_per_s, "%.0f");
    }
    out << "<p>Throughput scan: " << esc(scan.empty() ? s.throughput_knee
                                                      : scan + " samples/s" +
                                                            (s.throughput_knee.empty() ? "" : "; " + s.throughput_knee))
        << ".</p>\n";
  }
  if (s.phase_seconds.total > 0) {
    const PhaseSeconds& t = s.phase_seconds;
    out << "<p>Time: probe " << esc(format_seconds(t.probe)) << ", throughput scan "
        << esc(format_seconds(t.throughput_scan)) << ", training " << esc(format_seconds(t.training))
        << ", evaluation " << esc(format_seconds(t.evaluation)) << ", noise scale "
        << esc(format_seconds(t.noise_scale)) << ", total " << esc(format_seconds(t.total)) << ".</p>\n";
  }
  out << "<p>Time to target: where the validation loss crossed the target, interpolated between evaluations; "
         "shown only when every seed of a size reached it.</p>\n";
  out << "<table class=\"summary\">\n<thead><tr><th>batch</th><th>learning rate</th><th>done</th>"
      << "<th>samples/s</th><th>val loss</th><th>val accuracy</th><th>time to target</th>"
      << "<th>samples to target</th><th>peak memory</th></tr></thead>\n<tbody>\n";
  for (const auto& b : summaries_of(s)) {
    const bool is_rec = rec && b.batch_size == *rec;
    // The tag goes before the number so the batch sizes stay aligned.
    out << "<tr" << (is_rec ? " class=\"recommended\"" : "") << "><td>"
        << (is_rec ? "<span class=\"tag\">recommended</span> " : "") << b.batch_size << "</td><td>"
        << esc(num(b.learning_rate, "%.4g")) << "</td><td>" << b.completed << "/" << b.arms << "</td><td>"
        << spread_cell(b.samples_per_s, "%.0f") << "</td><td>" << spread_cell(b.final_validation_loss, "%.4f")
        << "</td><td>" << spread_cell(b.final_validation_accuracy, "%.4f") << "</td><td>"
        << esc(format_seconds(mean_of(b.seconds_to_target))) << "</td><td>"
        << esc(num(mean_of(b.samples_to_target), "%.0f")) << "</td><td>" << esc(format_bytes(b.peak_bytes))
        << "</td></tr>\n";
  }
  out << "</tbody>\n</table>\n";
  bool any_failed = false;
  for (const auto& a : s.arms) {
    if (a.status == ArmStatus::completed) continue;
    if (!any_failed) out << "<p>Arms that did not complete:</p>\n<ul>\n";
    any_failed = true;
    out << "<li>batch " << a.batch_size << " seed " << a.seed << ": "
        << esc(nlohmann::json(a.status).get<std::string>())
        << (a.failed_at_step ? " at step " + std::to_string(*a.failed_at_step) : "")
        << (a.message.empty() ? "" : " (" + esc(a.message) + ")") << "</li>\n";
  }
  if (any_failed) out << "</ul>\n";
}

void write_probe_tables(std::ostream& out, const Report& r) {
  if (!r.probe) {
    out << "<h3>Memory probe</h3>\n<p class=\"missing\">No memory probe in this report.</p>\n";
    return;
  }
  const ProbeResult& p = *r.probe;
  out << "<h3>Memory probe: trials</h3>\n<dl class=\"facts\">\n";
  fact(out, "largest fitting batch",
       integer(p.largest_fitting_batch) + (p.capped ? " (capped by " + (p.cap_source.empty() ? std::string("--max-batch") : p.cap_source) + " at " + integer(p.max_batch) + ")" : "") +
           (p.first_failing_batch ? "; first failing " + integer(*p.first_failing_batch) : ""));
  fact(out, "safe maximum", integer(p.safe_max_batch) + " (margin " + num(p.margin * 100, "%.0f") + "%)");
  if (p.min_batch > 1) {
    fact(out, "smallest batch",
         integer(p.min_batch) + ": smaller ones cannot train" +
             (p.min_batch_reason.empty() ? "" : " (" + first_line(p.min_batch_reason) + ")"));
  }
  fact(out, "capacity",
       format_bytes(p.capacity_bytes) + (p.capacity_source.empty() ? "" : " (" + p.capacity_source + ")"));
  fact(out, "search",
       p.strategy + " on " + p.device + ", meter " + p.meter + ", " + std::to_string(p.trials.size()) + " trials in " +
           format_seconds(p.total_seconds) + (p.isolated ? ", each in its own process" : ""));
  if (p.memory_model) {
    const MemoryModel& m = *p.memory_model;
    fact(out, "memory model",
         (std::isfinite(m.fixed_bytes) && m.fixed_bytes >= 0 ? format_bytes(static_cast<std::uint64_t>(m.fixed_bytes))
                                                             : "-") +
             " + " + num(m.per_sample_bytes / 1024, "%.2f") + " KiB \xC3\x97 batch (R\xC2\xB2 " +
             num(m.r_squared, "%.4f") + ", " + std::to_string(m.points) + " points)" +
             (p.predicted_edge ? "; predicted edge " + integer(*p.predicted_edge) : ""));
  }
  out << "</dl>\n";
  if (p.trials.empty()) return;
  out << "<table class=\"trials\">\n<thead><tr><th>#</th><th>batch</th><th class=\"text\">outcome</th>"
      << "<th>peak memory</th><th>seconds</th><th class=\"text\">message</th></tr></thead>\n<tbody>\n";
  int index = 0;
  for (const auto& t : p.trials) {
    const std::string outcome = nlohmann::json(t.outcome).get<std::string>();
    out << "<tr><td>" << ++index << "</td><td>" << t.batch_size << "</td><td class=\"text "
        << (t.outcome == TrialOutcome::fits ? "outcome-fits" : "outcome-bad") << "\">" << esc(outcome) << "</td><td>"
        << esc(format_bytes(t.peak_bytes)) << "</td><td>" << esc(num(t.seconds, "%.2f"))
        << "</td><td class=\"text message\">" << esc(first_line(t.message)) << "</td></tr>\n";
  }
  out << "</tbody>\n</table>\n";
}

void write_details(std::ostream& out, const Report& r) {
  const WorkloadInfo& w = r.workload;
  out << "<section id=\"details\">\n<h2>Workload and machine</h2>\n<h3>Workload</h3>\n<dl class=\"facts\">\n";
  fact(out, "model", w.model + (w.parameter_count > 0 ? " (" + integer(w.parameter_count) + " parameters)" : ""));
  fact(out, "task", w.task + (w.num_classes > 0 ? ", " + integer(w.num_classes) + " classes" : ""));
  fact(out, "data", w.data + (w.data_source.empty() ? "" : " (" + w.data_source + ")"));
  fact(out, "samples",
       integer(w.train_samples) + " training, " + integer(w.validation_samples) + " validation" +
           (w.validation_split.empty() ? "" : " (" + w.validation_split + ")"));
  std::string shape;
  for (const auto d : w.input_shape) shape += (shape.empty() ? "" : " \xC3\x97 ") + integer(d);
  fact(out, "input shape", shape);
  fact(out, "loss", w.loss + (w.loss_floor ? " (floor " + num(w.loss_floor, "%.4g") + ")" : ""));
  fact(out, "optimizer",
       w.optimizer + ", learning rate " + num(w.learning_rate, "%.4g") + ", momentum " + num(w.momentum, "%.3g") +
           ", weight decay " + num(w.weight_decay, "%.3g"));
  fact(out, "precision", w.precision);
  fact(out, "device", w.device);
  fact(out, "seed", std::to_string(w.seed));
  out << "</dl>\n<h3>Machine</h3>\n";
  if (!r.machine) {
    out << "<p class=\"missing\">No machine information in this report.</p>\n</section>\n";
    return;
  }
  const MachineInfo& m = *r.machine;
  out << "<dl class=\"facts\">\n";
  fact(out, "host", m.host_name);
  fact(out, "os", m.os + (m.kernel.empty() ? "" : " (" + m.kernel + ")"));
  fact(out, "cpu",
       m.cpu_model + ", " + std::to_string(m.logical_cores) + " logical cores, " + std::to_string(m.usable_cores) +
           " usable");
  fact(out, "torch threads",
       std::to_string(m.torch_threads) + " intra-op, " + std::to_string(m.torch_interop_threads) + " inter-op");
  fact(out, "ram",
       format_bytes(m.ram_total_bytes) + " total, " + format_bytes(m.ram_available_bytes) + " available" +
           (m.cgroup_memory_limit_bytes ? "; cgroup limit " + format_bytes(*m.cgroup_memory_limit_bytes) : ""));
  fact(out, "libtorch",
       m.libtorch_version + ", CUDA " + (m.cuda_built ? "built in" : "not built in") + ", " +
           (m.cuda_available ? "available" : "not available"));
  for (const auto& g : m.gpus) {
    out << "<dt>gpu " << g.index << "</dt><dd>"
        << esc(g.name + ", " + format_bytes(g.total_memory_bytes) + ", compute capability " + g.compute_capability)
        << "</dd>\n";
  }
  fact(out, "build", m.build_type + (m.compiler.empty() ? "" : ", " + m.compiler));
  out << "</dl>\n</section>\n";
}

void write_footer(std::ostream& out, const Report& r) {
  out << "<footer>\n<p>batchtune " << esc(r.tool_version.empty() ? "(unknown version)" : r.tool_version);
  if (!r.tool_commit.empty()) out << " (commit <code>" << esc(r.tool_commit) << "</code>)";
  out << ", report schema version " << r.schema_version;
  if (!r.path.empty()) out << ", read from <code>" << esc(r.path) << "</code>";
  out << ".</p>\n";
  if (!r.command_line.empty()) out << "<p>Command line:</p>\n<pre><code>" << esc(r.command_line) << "</code></pre>\n";
  out << "</footer>\n";
}

}  // namespace

void render_report_html(std::ostream& out, const Report& r) {
  std::string title = "batchtune: " + r.workload.model + " on " + r.workload.data;
  if (r.machine) title += ", " + machine_label(*r.machine);
  if (!r.date.empty()) title += ", " + r.date;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>" << esc(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  write_header(out, r);
  write_recommendation(out, r);
  write_charts(out, r);
  out << "<section id=\"tables\">\n<h2>Tables</h2>\n";
  write_sweep_tables(out, r);
  write_probe_tables(out, r);
  out << "</section>\n";
  write_details(out, r);
  write_footer(out, r);
  out << "<script>" << kScript << "</script>\n</body>\n</html>\n";
}

}  // namespace batchtune
