#include <catch2/catch.hpp>

#include <sstream>

#include "reports/render_html.hpp"

using namespace batchtune;

TEST_CASE("text from a report cannot break out of the HTML", "[reports][html]") {
  CHECK(html_escape("<script>alert('x') & \"y\"</script>") ==
        "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  Report r;
  r.workload.model = "<img src=x onerror=alert(1)>";
  r.command_line = "batchtune sweep --model '<b>'";
  std::ostringstream page;
  render_report_html(page, r);
  CHECK(page.str().find("<img src=x") == std::string::npos);
  CHECK(page.str().find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(page.str().find("<b>") == std::string::npos);
}
