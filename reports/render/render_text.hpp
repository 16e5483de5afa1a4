// Console and Markdown renderings of a whole report: the recommendation
// first (what a reader came for), then the probe and the sweep. The console
// form is what `sweep`, `report` and `show` print; the Markdown form fits a CI
// job summary ($GITHUB_STEP_SUMMARY) or a pull-request comment.
#pragma once

#include <iosfwd>
#include <string>

#include "reports/model/report_reader.hpp"
// format_number and format_seconds, declared here before reports/util/units.hpp held them.
#include "reports/util/units.hpp"

namespace batchtune {

void render_report_text(std::ostream& out, const Report& report);
void render_recommendation_text(std::ostream& out, const Recommendation& r);
void render_report_markdown(std::ostream& out, const Report& report);
// Variable-size data (an .npz with lengths or sizes): each size's padding
// and its peak memory against the probe's worst case at that size (the
// probe's memory line, measured at the largest samples); empty otherwise.
std::string variable_size_summary(const Report& report);

}  // namespace batchtune
