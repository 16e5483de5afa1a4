// The human renderings of a report written where the user asked (`sweep`
// and `report` share this): Markdown and HTML files, written atomically, or
// Markdown to stdout for "-" (a CI job appends it to its summary).
#pragma once

#include <iosfwd>
#include <string>

#include "reports/model/report_reader.hpp"

namespace batchtune {

struct RenderTargets {
  std::string markdown;  // a path, "-" for stdout, empty for none
  std::string html;      // a path, empty for none
  bool console_to_stdout() const { return markdown != "-"; }
};

// Fails early (before long work) when a target cannot be written.
void check_render_targets(const RenderTargets& targets);

// Writes the files; returns one "wrote PATH" line per file for stderr.
std::string write_renderings(const Report& report, const RenderTargets& targets, std::ostream& out);

}  // namespace batchtune
