// Console and Markdown renderings of a whole report: the recommendation
// first (what a reader came for), then the probe and the sweep. The console
// form is what `sweep`, `report` and `show` print; the Markdown form fits a CI
// job summary ($GITHUB_STEP_SUMMARY) or a pull-request comment.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "reports/report_reader.hpp"

namespace batchtune {

void render_report_text(std::ostream& out, const Report& report);
void render_recommendation_text(std::ostream& out, const Recommendation& r);
void render_report_markdown(std::ostream& out, const Report& report);

// "0.64 s", "12.3 s", "4.2 min", "1.5 h"; "-" for none.
std::string format_seconds(std::optional<double> seconds);
// printf-style formatting of one number; "-" for none or non-finite.
std::string format_number(std::optional<double> value, const char* format);

}  // namespace batchtune
