// `batchtune show FILE [--get KEY | --format env|json|args]`: a saved report,
// as tables, one value for a shell script (`--get recommendation.batch_size`),
// or the recommendation for a training script (reports/tools/handoff.hpp). A report that
// recommends no batch size has no such value: exit 1 with the reason, never
// "null" in a variable a script goes on to use.
#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>

#include "reports/util/error.hpp"
#include "reports/tools/handoff.hpp"
#include "reports/render/render_text.hpp"
#include "reports/model/report_reader.hpp"
#include "tuner/cli/cli.hpp"

namespace batchtune {
namespace {

struct ShowOptions {
  std::string file;
  std::string get;
  std::string format;
};

void run_show(const ShowOptions& o, Io io) {
  if (!o.get.empty() && !o.format.empty()) throw UsageError("--get and --format: give one of them");
  const HandoffFormat format = o.format.empty() ? HandoffFormat::env : parse_handoff_format(o.format);
  const Report r = read_report(o.file);
  if (!o.format.empty()) {
    io.out << render_handoff(r, format);
    return;
  }
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
  sub->add_option("--format", o->format,
                  "The recommendation for a training script: env (BATCHTUNE_BATCH_SIZE=... lines), json (one "
                  "object) or args (--batch-size N --micro-batch-size N --accumulation-steps N --learning-rate X); "
                  "exit 1 when the report recommends none or its sweep is incomplete")
      ->check(CLI::IsMember({"env", "json", "args"}));
  sub->callback([o, io] { run_show(*o, io); });
}

}  // namespace batchtune
