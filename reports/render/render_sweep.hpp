// The sweep section of a report, as the console prints it.
#pragma once

#include <iosfwd>

#include "reports/model/sweep_report.hpp"

namespace batchtune {

void render_sweep_text(std::ostream& out, const SweepResult& s);

}  // namespace batchtune
