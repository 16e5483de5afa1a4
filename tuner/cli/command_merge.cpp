// `batchtune merge PART.json ... -o report.json`: the parts of a sweep that
// ran on several machines (`sweep --shard I/N`) joined into one report with
// one recommendation (reports/tools/merge.hpp checks that they belong together).
#include <CLI/CLI.hpp>

#include <fstream>
#include <memory>
#include <ostream>

#include "reports/tools/check.hpp"
#include "reports/util/error.hpp"
#include "reports/tools/merge.hpp"
#include "reports/render/render_text.hpp"
#include "reports/render/report_outputs.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/output_plan.hpp"
#include "tuner/cli/option_text.hpp"

namespace batchtune {
namespace {

struct MergeOptions {
  std::vector<std::string> files;
  std::string output = "batchtune-report.json";
  std::string objective;
  std::int64_t effective_batch = 0;
  std::string max_val_loss_excess;
  RenderTargets renderings;
};

void run_merge(const MergeOptions& o, Io io) {
  std::vector<NamedPath> inputs;
  for (const auto& f : o.files) inputs.push_back({"PART", f});
  check_outputs({{"-o", o.output}, {"--html", o.renderings.html}, {"--markdown", o.renderings.markdown}}, inputs);
  std::vector<MergeInput> parts;
  for (const auto& f : o.files) {
    MergeInput p;
    p.report = read_report(f);
    std::ifstream in(f, std::ios::binary);
    p.json = nlohmann::ordered_json::parse(in);  // read_report has checked and parsed it once
    parts.push_back(std::move(p));
  }
  MergeSettings settings;
  if (!o.objective.empty()) settings.objective = parse_objective(o.objective).value();  // IsMember checked it
  if (o.effective_batch > 0) settings.effective_batch = o.effective_batch;
  if (!o.max_val_loss_excess.empty()) {
    settings.max_validation_loss_excess = parse_percent(o.max_val_loss_excess, "--max-val-loss-excess");
  }
  const MergeResult merged = merge_reports(parts, settings);
  const std::string text = merged.report.dump(2) + "\n";
  write_report_or_rescue(o.output, text);
  for (const auto& n : merged.notes) io.err << n << '\n';
  io.err << "merge: wrote " << o.output << " (" << parts.size() << " parts)\n";
  const Report written = report_from_json(nlohmann::json::parse(text), o.output);
  if (o.renderings.console_to_stdout()) render_report_text(io.out, written);
  io.err << write_renderings(written, o.renderings, io.out);
}

}  // namespace

void setup_merge(CLI::App& app, Io io) {
  auto o = std::make_shared<MergeOptions>();
  CLI::App* sub = app.add_subcommand(
      "merge", "Join the reports of a sweep split over machines (sweep --shard I/N) into one report with one "
               "recommendation; parts of different workloads, machine classes, builds or settings are refused");
  sub->add_option("parts", o->files, "The parts' reports (JSON), all N of them, in any order")->required();
  sub->add_option("-o,--output", o->output, "The joined report (JSON), written atomically")
      ->capture_default_str()->check(non_empty_path());
  sub->add_option("--objective", o->objective,
                  "Recommend for this objective instead of the one the parts were run with")
      ->check(CLI::IsMember(recommendation_objectives()));
  sub->add_option("--effective-batch", o->effective_batch,
                  "Plan for this effective batch (micro-batch x accumulation steps above the safe maximum)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  sub->add_option("--max-val-loss-excess", o->max_val_loss_excess,
                  "Refuse batch sizes whose final validation loss is more than this much above the best size's "
                  "(a percentage such as 2%)");
  add_render_options(*sub, o->renderings);
  sub->callback([o, io] { run_merge(*o, io); });
}

}  // namespace batchtune
