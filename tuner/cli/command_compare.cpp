// `batchtune compare A.json B.json [...]`: reports from different machines,
// builds, thread counts or precisions side by side, matched by batch size.
#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>
#include <sstream>

#include "reports/util/atomic_file.hpp"
#include "reports/tools/compare.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/output_plan.hpp"

namespace batchtune {
namespace {

struct CompareOptions {
  std::vector<std::string> files;
  std::vector<std::string> labels;
  std::string json;
  std::string markdown;
  bool force = false;
  double alpha = 0.05;
};

void run_compare(const CompareOptions& o, Io io) {
  std::vector<NamedPath> inputs;
  for (const auto& f : o.files) inputs.push_back({"report", f});
  check_outputs({{"--json", o.json}, {"--markdown", o.markdown}}, inputs);
  std::vector<Report> reports;
  for (const auto& f : o.files) reports.push_back(read_report(f));
  CompareSettings settings;
  settings.labels = o.labels;
  settings.force = o.force;
  settings.alpha = o.alpha;
  const Comparison c = compare_reports(reports, settings);
  if (o.markdown == "-") {
    render_comparison_markdown(io.out, c);
  } else {
    render_comparison_text(io.out, c);
    if (!o.markdown.empty()) {
      std::ostringstream md;
      render_comparison_markdown(md, c);
      write_file_atomically(o.markdown, md.str());
      io.err << "wrote " << o.markdown << '\n';
    }
  }
  if (!o.json.empty()) {
    write_file_atomically(o.json, comparison_to_json(c).dump(2) + "\n");
    io.err << "wrote " << o.json << '\n';
  }
}

}  // namespace

void setup_compare(CLI::App& app, Io io) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* sub = app.add_subcommand(
      "compare", "Put reports from different machines, builds or settings side by side, matched by batch size");
  sub->add_option("files", o->files, "Two or more reports (JSON); ratios are against the first")->required()->expected(2, -1);
  sub->add_option("--label", o->labels,
                  "A label for a report; repeat it, once per report in order (default: GPU or CPU model and host)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--json", o->json, "Also write the comparison as JSON to this file");
  sub->add_option("--markdown", o->markdown, "Also write the comparison as Markdown to this file; '-' for stdout");
  sub->add_flag("--force", o->force, "Compare reports of different workloads anyway (their figures do not compare)");
  sub->add_option("--alpha", o->alpha,
                  "Significance level of the Mann-Whitney U test on block means of the step times")
      ->capture_default_str()->check(CLI::Range(1e-9, 0.5));
  sub->callback([o, io] { run_compare(*o, io); });
}

}  // namespace batchtune
