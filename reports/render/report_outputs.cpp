#include "reports/render/report_outputs.hpp"

#include <ostream>
#include <sstream>

#include "reports/util/atomic_file.hpp"
#include "reports/render/render_html.hpp"
#include "reports/render/render_text.hpp"

namespace batchtune {

void check_render_targets(const RenderTargets& t) {
  if (!t.markdown.empty() && t.markdown != "-") check_writable(t.markdown);
  if (!t.html.empty()) check_writable(t.html);
}

std::string write_renderings(const Report& report, const RenderTargets& t, std::ostream& out) {
  std::string wrote;
  if (t.markdown == "-") {
    render_report_markdown(out, report);
  } else if (!t.markdown.empty()) {
    std::ostringstream md;
    render_report_markdown(md, report);
    write_file_atomically(t.markdown, md.str());
    wrote += "wrote " + t.markdown + "\n";
  }
  if (!t.html.empty()) {
    std::ostringstream html;
    render_report_html(html, report);
    write_file_atomically(t.html, html.str());
    wrote += "wrote " + t.html + "\n";
  }
  return wrote;
}

}  // namespace batchtune
