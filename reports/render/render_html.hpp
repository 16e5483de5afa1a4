// The HTML rendering of a report (`batchtune report X --html Y`): one
// self-contained page a person can open from a CI artifact or attach to a
// ticket. Inline CSS, SVG charts drawn here in C++, no network, no fonts or
// scripts from elsewhere; the only JavaScript counts the charts that rendered,
// so a headless browser can check the page (tests/reports/html_renders.sh).
#pragma once

#include <iosfwd>

#include "reports/model/report_reader.hpp"

namespace batchtune {

// The recommendation first, then the charts (throughput, memory, loss against
// samples and against seconds, time to target), the tables, the workload and
// machine, and a footer with the tool version and command line. A chart whose
// data the report lacks is left out with a line saying so, so every
// <svg class="chart"> on the page has data drawn in it.
void render_report_html(std::ostream& out, const Report& report);

}  // namespace batchtune
