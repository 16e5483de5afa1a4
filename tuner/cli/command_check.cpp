// `batchtune check FILE [--baseline B] [--max-regression 10%] [--min-batch N]
// [--min-confidence low|medium|high]`:
// exit 0 when the report holds, 1 with one line per failed condition (a
// sweep that recommends no batch size is one).
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <ostream>

#include "reports/tools/check.hpp"
#include "reports/util/error.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/option_text.hpp"

namespace batchtune {
namespace {

struct CheckOptions {
  std::string file;
  std::string baseline;
  std::string max_regression = "10%";
  std::int64_t min_batch = 0;
  std::string min_confidence;
};

void run_check(const CheckOptions& o, Io io) {
  CheckSettings settings;
  settings.max_regression = parse_percent(o.max_regression, "--max-regression");
  if (o.min_batch > 0) settings.min_batch = o.min_batch;
  if (!o.min_confidence.empty()) settings.min_confidence = nlohmann::json(o.min_confidence).get<Confidence>();
  const Report report = read_report(o.file);
  std::optional<Report> baseline;
  if (!o.baseline.empty()) baseline = read_report(o.baseline);
  const CheckOutcome outcome = check_report(report, baseline ? &*baseline : nullptr, settings);
  for (const auto& line : outcome.passed) io.out << "ok:   " << line << '\n';
  for (const auto& line : outcome.warnings) io.out << "warn: " << line << '\n';
  for (const auto& line : outcome.failed) io.out << "FAIL: " << line << '\n';
  if (!outcome.failed.empty()) {
    throw Error(ExitCode::check_failed, "check: " + std::to_string(outcome.failed.size()) + " condition(s) failed for " + o.file);
  }
}

}  // namespace

void setup_check(CLI::App& app, Io io) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand(
      "check", "For CI: exit 0 when a report holds, 1 with one line per failed condition");
  sub->add_option("file", o->file, "The report (JSON)")->required();
  sub->add_option("--baseline", o->baseline,
                  "An earlier report of the same workload: fail when the largest fitting batch shrinks or samples/s "
                  "drops beyond --max-regression (and beyond noise, by a U test on block means of step times)");
  sub->add_option("--max-regression", o->max_regression, "Allowed loss against the baseline, in percent")
      ->capture_default_str();
  sub->add_option("--min-batch", o->min_batch, "Fail when the largest fitting batch is below N")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  sub->add_option("--min-confidence", o->min_confidence,
                  "Fail when the recommendation's confidence is below this: low, medium or high (the reasons "
                  "say what lowered it)")
      ->check(CLI::IsMember({"low", "medium", "high"}));
  sub->callback([o, io] { run_check(*o, io); });
}

}  // namespace batchtune
