// `batchtune show FILE [--get KEY]`: a saved report, as tables, or one value
// for a shell script (`--get recommendation.batch_size`). A report that
// recommends no batch size has no such value: exit 1 with the reason, never
// "null" in a variable a script goes on to use.
#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>

#include "reports/render_text.hpp"
#include "reports/report_reader.hpp"
#include "tuner/cli.hpp"

namespace batchtune {
namespace {

struct ShowOptions {
  std::string file;
  std::string get;
};

void run_show(const ShowOptions& o, Io io) {
  const Report r = read_report(o.file);
  if (!o.get.empty()) {
    require_recommendation_for(r, o.get);
    io.out << format_value(value_at(r.json, o.get)) << '\n';
    return;
  }
  render_report_text(io.out, r);
}

}  // namespace

void setup_show(CLI::App& app, Io io) {
  auto o = std::make_shared<ShowOptions>();
  CLI::App* sub = app.add_subcommand("show", "Print a saved report, or one value of it with --get (for CI scripts)");
  sub->add_option("file", o->file, "The report (JSON)")->required();
  sub->add_option("--get", o->get, "A dotted key, e.g. probe.safe_max_batch or sweep.arms.0.samples_per_s");
  sub->callback([o, io] { run_show(*o, io); });
}

}  // namespace batchtune
