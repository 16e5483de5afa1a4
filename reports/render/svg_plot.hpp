// A small SVG plotting kit for the HTML report: axes (linear, log2, log10)
// with nice ticks, data-to-pixel mapping, marks (lines, dots, crosses,
// squares, whiskers, bands, reference lines) and a legend beside the plot,
// never over the data. It knows nothing of reports; reports/render/html_charts.*
// builds the report's charts on it.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace batchtune {

// Text safe inside HTML and SVG elements and quoted attributes: & < > " ' escaped.
std::string html_escape(std::string_view text);

namespace svg {

using Point = std::pair<double, double>;

// Okabe & Ito (2008): hues that stay apart under every common colour-vision
// deficiency. Yellow is left out: it vanishes on white.
namespace colour {
inline constexpr const char* orange = "#E69F00";
inline constexpr const char* green = "#009E73";
inline constexpr const char* blue = "#0072B2";
inline constexpr const char* vermillion = "#D55E00";
inline constexpr const char* purple = "#CC79A7";
inline constexpr const char* black = "#000000";
inline constexpr const char* grey = "#707070";
}  // namespace colour

// The index-th of `count` ordered things (batch sizes, say: more of them than
// Okabe-Ito's seven usable hues) coloured along viridis, also safe for
// colour-blind readers: the first dark purple, the last green. The yellow end
// is cut off for the same reason as above. "#rrggbb".
std::string viridis(std::size_t index, std::size_t count);

// An SVG coordinate, one decimal; callers pass only finite values (Plot checks).
std::string coord(double value);

enum class Scale { linear, log2, log10 };

inline bool is_log(Scale s) { return s != Scale::linear; }

// The span of the values a scale can place: non-finite values, and values at
// or below zero on a log scale, are skipped rather than poisoning the range.
struct Extent {
  Scale scale = Scale::linear;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();

  explicit Extent(Scale s) : scale(s) {}
  void add(double v);
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

// 1, 2 or 5 times a power of ten, giving about `target` intervals over `span`.
double nice_step(double span, int target);

// Linear axis rounded out to whole ticks of a nice step (zero added to the
// extent when `include_zero`); labels shortened to k or M when the numbers
// are large, with as many decimals as the step needs.
Axis linear_axis(const Extent& extent, std::string title, bool include_zero, int target_ticks);

// Powers of two on a log2 axis (batch sizes), ticks at powers of two (every
// second or fourth one when labels `length_px` apart would collide), the
// domain padded so end points do not sit on the frame.
Axis log2_axis(const Extent& extent, std::string title, double length_px);

// Values that span decades on a log10 axis: ticks at powers of ten, and at 2
// and 5 times them when the axis spans less than three decades.
Axis log10_axis(const Extent& extent, std::string title);

struct LegendEntry {
  enum class Symbol { line, dashed_line, dotted_line, dot, line_dot, cross, square, whisker, band };
  Symbol symbol = Symbol::line;
  std::string colour;
  std::string label;
  double width = 2;
};

// One chart: two axes, grid, ticks, titles, the marks and a legend. Marks are
// drawn in layers (bands and references beneath the lines, points over them,
// labels outside the clip path) whatever order they are added in.
class Plot {
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

  // `name` names the chart in the page (data-chart, element ids).
  Plot(std::string name, std::string title, std::string subtitle, Axis x, Axis y);

  // Pixel positions; NaN when the value cannot be placed (so the caller skips
  // the point). Values far outside the axes are pulled in to a finite
  // distance: the clip path hides them, and the SVG stays readable.
  double px(double x) const { return place(x, x_, kLeft, kLeft + kPlotWidth); }
  double py(double y) const { return place(y, y_, kTop + kPlotHeight, kTop); }
  bool placed(const Point& p) const;

  // Marks of class "mark" (what the page's check counts); `dash` is an SVG
  // stroke-dasharray or null; an empty tooltip adds none. Points that cannot
  // be placed are skipped.
  void polyline(const std::vector<Point>& points, const std::string& colour, double width, const char* dash,
                const std::string& tooltip);
  void dot(const Point& p, const std::string& colour, double radius, bool filled, const std::string& tooltip);
  void cross(const Point& p, const std::string& colour, const std::string& tooltip);
  void square(const Point& p, const std::string& colour, const std::string& tooltip);
  // A vertical bar from lo to hi with caps (a spread).
  void whisker(double x, double lo, double hi, const std::string& colour, const std::string& tooltip);

  // A value to point at: a band behind the data at x and a label above the
  // plot, where it cannot cover a point. False, drawing nothing, when x
  // cannot be placed.
  struct Highlight {
    std::string css_class;     // of the band
    std::string colour;        // of the band and its centre line
    std::string label_colour;  // darker than the band, for text
    std::string label;
  };
  bool highlight_x(double x, const Highlight& highlight);
  // A horizontal reference (a capacity, a target), labelled at its left end.
  void reference_line(double y, const std::string& colour, const char* dash, const std::string& label);
  // The same, upright and dotted, named in the legend instead.
  void reference_x(double x, const std::string& colour, const std::string& legend_label);

  void legend(LegendEntry entry) { legend_.push_back(std::move(entry)); }
  void legend_heading(std::string heading) { legend_heading_ = std::move(heading); }

  // The whole <svg> element.
  void write(std::ostream& out) const;

 private:
  static double place(double v, const Axis& axis, double from_px, double to_px);
  static std::string dash_attribute(const char* dash);
  static std::string tooltip_element(const std::string& tooltip);
  void write_legend(std::ostream& out) const;

  std::string name_, title_, subtitle_;
  Axis x_, y_;
  std::ostringstream under_;   // bands and reference lines, beneath the data
  std::ostringstream lines_;   // the data, class "mark" (what the page's check counts): lines
  std::ostringstream marks_;   // and points, drawn over the lines
  std::ostringstream labels_;  // annotations, outside the clip path
  std::vector<LegendEntry> legend_;
  std::string legend_heading_;
};

}  // namespace svg
}  // namespace batchtune
