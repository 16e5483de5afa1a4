#include "reports/render/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "reports/util/fit.hpp"

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

namespace svg {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
std::string esc(const std::string& text) { return html_escape(text); }

}  // namespace

std::string viridis(std::size_t index, std::size_t count) {
  static const int stops[][3] = {{68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},  {42, 120, 142},
                                 {33, 145, 140}, {34, 168, 132}, {68, 191, 112}, {122, 209, 81}, {189, 223, 38}};
  const double t = count > 1 ? 8.5 * static_cast<double>(index) / static_cast<double>(count - 1) : 0.0;
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(t), 8);
  const double f = t - static_cast<double>(k);
  char buf[8];
  const auto mix = [&](int channel) {
    return static_cast<int>(std::lround(lerp(stops[k][channel], stops[k + 1][channel], f)));
  };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(0), mix(1), mix(2));
  return buf;
}

std::string coord(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

void Extent::add(double v) {
  if (!std::isfinite(v) || (is_log(scale) && v <= 0)) return;
  lo = std::min(lo, v);
  hi = std::max(hi, v);
}

double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * magnitude;
}

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

Plot::Plot(std::string name, std::string title, std::string subtitle, Axis x, Axis y)
    : name_(std::move(name)),
      title_(std::move(title)),
      subtitle_(std::move(subtitle)),
      x_(std::move(x)),
      y_(std::move(y)) {}

bool Plot::placed(const Point& p) const { return std::isfinite(px(p.first)) && std::isfinite(py(p.second)); }

void Plot::polyline(const std::vector<Point>& points, const std::string& colour, double width, const char* dash,
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

void Plot::dot(const Point& p, const std::string& colour, double radius, bool filled, const std::string& tooltip) {
  if (!placed(p)) return;
  marks_ << "<circle class=\"mark\" cx=\"" << coord(px(p.first)) << "\" cy=\"" << coord(py(p.second)) << "\" r=\""
         << radius << "\" fill=\"" << (filled ? colour : "white") << "\" stroke=\"" << colour
         << "\" stroke-width=\"1.5\">" << tooltip_element(tooltip) << "</circle>\n";
}

void Plot::cross(const Point& p, const std::string& colour, const std::string& tooltip) {
  if (!placed(p)) return;
  const double x = px(p.first), y = py(p.second), r = 5;
  marks_ << "<path class=\"mark\" stroke=\"" << colour << "\" stroke-width=\"2.5\" d=\"M" << coord(x - r) << ","
         << coord(y - r) << " L" << coord(x + r) << "," << coord(y + r) << " M" << coord(x - r) << "," << coord(y + r)
         << " L" << coord(x + r) << "," << coord(y - r) << "\">" << tooltip_element(tooltip) << "</path>\n";
}

void Plot::square(const Point& p, const std::string& colour, const std::string& tooltip) {
  if (!placed(p)) return;
  const double half = 4.5;
  marks_ << "<rect class=\"mark\" x=\"" << coord(px(p.first) - half) << "\" y=\"" << coord(py(p.second) - half)
         << "\" width=\"" << 2 * half << "\" height=\"" << 2 * half << "\" fill=\"white\" stroke=\"" << colour
         << "\" stroke-width=\"1.8\">" << tooltip_element(tooltip) << "</rect>\n";
}

void Plot::whisker(double x, double lo, double hi, const std::string& colour, const std::string& tooltip) {
  const double cx = px(x), y0 = py(lo), y1 = py(hi);
  if (!std::isfinite(cx) || !std::isfinite(y0) || !std::isfinite(y1)) return;
  marks_ << "<path class=\"mark\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" d=\"M" << coord(cx)
         << "," << coord(y0) << " L" << coord(cx) << "," << coord(y1) << " M" << coord(cx - 5) << "," << coord(y0)
         << " L" << coord(cx + 5) << "," << coord(y0) << " M" << coord(cx - 5) << "," << coord(y1) << " L"
         << coord(cx + 5) << "," << coord(y1) << "\">" << tooltip_element(tooltip) << "</path>\n";
}

bool Plot::highlight_x(double x_value, const Highlight& h) {
  const double x = px(x_value);
  if (!std::isfinite(x)) return false;
  under_ << "<rect class=\"" << h.css_class << "\" x=\"" << coord(x - 9) << "\" y=\"" << coord(kTop)
         << "\" width=\"18\" height=\"" << kPlotHeight << "\" fill=\"" << h.colour << "\" fill-opacity=\"0.22\"/>\n"
         << "<line x1=\"" << coord(x) << "\" x2=\"" << coord(x) << "\" y1=\"" << coord(kTop) << "\" y2=\""
         << coord(kTop + kPlotHeight) << "\" stroke=\"" << h.colour << "\" stroke-width=\"2\"/>\n";
  // Kept over the plot (not over the tick labels) when the band is at an edge.
  const double half_width_px = 3.6 * static_cast<double>(h.label.size());
  const double label_x = std::clamp(x, kLeft + half_width_px, kLeft + kPlotWidth - half_width_px);
  labels_ << "<text class=\"annotation\" x=\"" << coord(label_x) << "\" y=\"" << coord(kTop - 6)
          << "\" text-anchor=\"middle\" fill=\"" << h.label_colour << "\">" << esc(h.label) << "</text>\n";
  return true;
}

// Labelled at the left end: curves tend to end on the right.
void Plot::reference_line(double y, const std::string& colour, const char* dash, const std::string& label) {
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

void Plot::reference_x(double x_value, const std::string& colour, const std::string& legend_label) {
  const double x = px(x_value);
  if (!std::isfinite(x)) return;
  under_ << "<line x1=\"" << coord(x) << "\" x2=\"" << coord(x) << "\" y1=\"" << coord(kTop) << "\" y2=\""
         << coord(kTop + kPlotHeight) << "\" stroke=\"" << colour << "\" stroke-width=\"1.5\""
         << dash_attribute("2 3") << "/>\n";
  legend({LegendEntry::Symbol::dotted_line, colour, legend_label});
}

void Plot::write(std::ostream& out) const {
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

double Plot::place(double v, const Axis& axis, double from_px, double to_px) {
  if (!std::isfinite(v) || (is_log(axis.scale) && v <= 0)) return kNaN;
  const double u = axis.scale == Scale::log2 ? std::log2(v) : axis.scale == Scale::log10 ? std::log10(v) : v;
  const double t = (u - axis.lo) / (axis.hi - axis.lo);
  if (!std::isfinite(t)) return kNaN;
  return from_px + std::clamp(t, -4.0, 5.0) * (to_px - from_px);
}

std::string Plot::dash_attribute(const char* dash) {
  return dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string();
}

std::string Plot::tooltip_element(const std::string& tooltip) {
  return tooltip.empty() ? std::string() : "<title>" + esc(tooltip) + "</title>";
}

void Plot::write_legend(std::ostream& out) const {
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

}  // namespace svg
}  // namespace batchtune
