// The SVG plotting kit under the HTML report's charts (reports/render/svg_plot.hpp):
// tick steps and labels, log axes, the mapping of data to pixels, escaping.
#include "tests/support/catch.hpp"

#include <cmath>
#include <sstream>

#include "reports/render/svg_plot.hpp"

using namespace batchtune;
using namespace batchtune::svg;

namespace {

Extent extent_of(Scale scale, std::initializer_list<double> values) {
  Extent e(scale);
  for (double v : values) e.add(v);
  return e;
}

Axis axis(Scale scale, double lo, double hi) {
  Axis a;
  a.scale = scale;
  a.lo = lo;
  a.hi = hi;
  return a;
}

}  // namespace

TEST_CASE("nice steps are 1, 2 or 5 times a power of ten", "[reports][svg]") {
  CHECK(nice_step(10, 5) == 2);
  CHECK(nice_step(100, 5) == 20);
  CHECK(nice_step(7, 5) == 1);       // 1.4 rounds down to 1
  CHECK(nice_step(30, 4) == 10);     // 7.5 rounds up to 10
  CHECK(nice_step(1000, 8) == 100);  // 125
  CHECK(nice_step(24, 5) == 5);      // 4.8
  CHECK(nice_step(0.3, 5) == Approx(0.05).epsilon(1e-12));
}

TEST_CASE("a linear axis rounds out to whole ticks that cover the data", "[reports][svg]") {
  SECTION("from zero when asked") {
    const Axis a = linear_axis(extent_of(Scale::linear, {23, 47}), "y", true, 5);
    CHECK(a.lo == 0);
    CHECK(a.hi == 50);
    CHECK(a.ticks == std::vector<double>{0, 10, 20, 30, 40, 50});
    CHECK(a.labels == std::vector<std::string>{"0", "10", "20", "30", "40", "50"});
    CHECK(a.title == "y");
  }
  SECTION("around the data otherwise") {
    const Axis a = linear_axis(extent_of(Scale::linear, {23, 47}), "y", false, 5);
    CHECK(a.ticks == std::vector<double>{20, 25, 30, 35, 40, 45, 50});
    CHECK(a.ticks.front() <= 23);
    CHECK(a.ticks.back() >= 47);
  }
  SECTION("across zero") {
    const Axis a = linear_axis(extent_of(Scale::linear, {-3, 7}), "y", true, 5);
    CHECK(a.ticks == std::vector<double>{-4, -2, 0, 2, 4, 6, 8});
    CHECK(a.labels.front() == "-4");
  }
  SECTION("thousands as k, millions as M, decimals as the step needs") {
    CHECK(linear_axis(extent_of(Scale::linear, {0, 12000}), "", true, 5).labels ==
          std::vector<std::string>{"0", "2k", "4k", "6k", "8k", "10k", "12k"});
    CHECK(linear_axis(extent_of(Scale::linear, {0, 3.2e6}), "", true, 5).labels ==
          std::vector<std::string>{"0.0", "0.5M", "1.0M", "1.5M", "2.0M", "2.5M", "3.0M", "3.5M"});
    CHECK(linear_axis(extent_of(Scale::linear, {0.02, 0.47}), "", true, 5).labels ==
          std::vector<std::string>{"0.0", "0.1", "0.2", "0.3", "0.4", "0.5"});
  }
  SECTION("no data: 0 to 1") {
    const Axis a = linear_axis(Extent(Scale::linear), "", true, 5);
    CHECK(a.lo == 0);
    CHECK(a.hi == 1);
    CHECK(a.labels == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  }
  SECTION("an extent skips what it cannot place") {
    const Extent e = extent_of(Scale::linear, {NAN, 3, INFINITY, 9});
    CHECK(e.lo == 3);
    CHECK(e.hi == 9);
    const Extent log = extent_of(Scale::log2, {0, -4, 8, 2});
    CHECK(log.lo == 2);
    CHECK(log.hi == 8);
  }
}

TEST_CASE("a log2 axis ticks at powers of two, thinned when labels would collide", "[reports][svg]") {
  const Extent sizes = extent_of(Scale::log2, {16, 256});
  SECTION("every power when there is room") {
    const Axis a = log2_axis(sizes, "batch", Plot::kPlotWidth);
    CHECK(a.scale == Scale::log2);
    CHECK(a.lo == Approx(4 - 0.35).epsilon(1e-12));  // padded off the frame
    CHECK(a.hi == Approx(8 + 0.35).epsilon(1e-12));
    CHECK(a.ticks == std::vector<double>{16, 32, 64, 128, 256});
    CHECK(a.labels == std::vector<std::string>{"16", "32", "64", "128", "256"});
  }
  SECTION("every second power on a narrow axis") {
    const Axis a = log2_axis(sizes, "batch", 100);
    CHECK(a.ticks == std::vector<double>{16, 64, 256});
  }
  SECTION("one size gets a power either side") {
    CHECK(log2_axis(extent_of(Scale::log2, {64}), "", Plot::kPlotWidth).ticks == std::vector<double>{32, 64, 128});
  }
  SECTION("fractions get a tick but no label") {
    const Axis a = log2_axis(extent_of(Scale::log2, {0.5, 4}), "", Plot::kPlotWidth);
    CHECK(a.ticks == std::vector<double>{0.5, 1, 2, 4});
    CHECK(a.labels == std::vector<std::string>{"", "1", "2", "4"});
  }
}

TEST_CASE("a log10 axis ticks at powers of ten, and 2 and 5 on a short one", "[reports][svg]") {
  SECTION("four decades: powers only") {
    const Axis a = log10_axis(extent_of(Scale::log10, {3, 4000}), "seconds");
    CHECK(a.lo == 0);
    CHECK(a.hi == 4);
    CHECK(a.ticks == std::vector<double>{1, 10, 100, 1000, 10000});
    CHECK(a.labels == std::vector<std::string>{"1", "10", "100", "1000", "10000"});
  }
  SECTION("two decades: 1, 2, 5 in each") {
    const Axis a = log10_axis(extent_of(Scale::log10, {2, 30}), "seconds");
    CHECK(a.ticks == std::vector<double>{1, 2, 5, 10, 20, 50, 100});
    CHECK(a.labels == std::vector<std::string>{"1", "2", "5", "10", "20", "50", "100"});
  }
}

TEST_CASE("data map to the plot's edges, monotonic on every scale", "[reports][svg]") {
  const double left = Plot::kLeft, right = Plot::kLeft + Plot::kPlotWidth;
  const double bottom = Plot::kTop + Plot::kPlotHeight, top = Plot::kTop;
  SECTION("linear") {
    const Plot p("p", "", "", axis(Scale::linear, 0, 10), axis(Scale::linear, 0, 100));
    CHECK(p.px(0) == left);
    CHECK(p.px(10) == right);
    CHECK(p.px(5) == (left + right) / 2);
    CHECK(p.py(0) == bottom);  // y grows upwards
    CHECK(p.py(100) == top);
    CHECK(p.px(1000) == left + 5 * Plot::kPlotWidth);  // far outside: pulled in, still finite
  }
  SECTION("log2") {
    const Plot p("p", "", "", axis(Scale::log2, 4, 8), axis(Scale::linear, 0, 1));
    CHECK(p.px(16) == left);
    CHECK(p.px(256) == right);
    CHECK(p.px(64) == (left + right) / 2);
    double previous = -INFINITY;
    for (double b : {16, 24, 32, 48, 64, 96, 128, 192, 256}) {
      CHECK(p.px(b) > previous);
      previous = p.px(b);
    }
    CHECK(std::isnan(p.px(0)));  // no place for zero on a log scale
    CHECK_FALSE(p.placed({-1, 0.5}));
    CHECK(p.placed({32, 0.5}));
  }
  SECTION("log10") {
    const Plot p("p", "", "", axis(Scale::linear, 0, 1), axis(Scale::log10, 0, 3));
    CHECK(p.py(1) == bottom);
    CHECK(p.py(1000) == top);
    CHECK(p.py(10) == Approx(bottom - Plot::kPlotHeight / 3).epsilon(1e-12));
    CHECK(p.py(100) < p.py(10));
    CHECK(std::isnan(p.py(NAN)));
  }
}

TEST_CASE("the plot writes what can be placed, escaped", "[reports][svg]") {
  Plot p("demo", "A & B", "<sub>", axis(Scale::linear, 0, 10), axis(Scale::linear, 0, 100));
  p.polyline({{0, 0}, {NAN, 50}, {10, 100}}, colour::blue, 2, nullptr, "it's \"so\"");
  p.legend({LegendEntry::Symbol::line, colour::blue, "x < y"});
  std::ostringstream out;
  p.write(out);
  const std::string svg = out.str();
  CHECK_THAT(svg, Catch::StartsWith("<svg class=\"chart\" data-chart=\"demo\""));
  CHECK_THAT(svg, Catch::Contains("points=\"78.0,272.0 790.0,46.0\""));
  CHECK_THAT(svg, Catch::Contains("<title>it&#39;s &quot;so&quot;</title>"));
  CHECK_THAT(svg, Catch::Contains("A &amp; B<tspan class=\"chart-subtitle\" dx=\"12\">&lt;sub&gt;</tspan>"));
  CHECK_THAT(svg, Catch::Contains(">x &lt; y</text>"));
  CHECK_THAT(svg, Catch::EndsWith("</svg>\n"));
}

TEST_CASE("escaping, coordinates and colours", "[reports][svg]") {
  CHECK(html_escape("<>&\"'") == "&lt;&gt;&amp;&quot;&#39;");
  CHECK(html_escape("plain text, \xC3\x97 2") == "plain text, \xC3\x97 2");
  CHECK(html_escape("") == "");
  CHECK(coord(434) == "434.0");
  CHECK(coord(12.345) == "12.3");
  CHECK(viridis(0, 10) == "#440154");  // dark purple first
  CHECK(viridis(9, 10) == "#9cd83c");  // green last, halfway to the yellow end
  CHECK(viridis(0, 1) == "#440154");
}
