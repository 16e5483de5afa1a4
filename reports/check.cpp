#include "reports/check.hpp"

#include <cmath>

#include "reports/compare.hpp"
#include "reports/error.hpp"
#include "reports/render_text.hpp"
#include "reports/statistics.hpp"

namespace batchtune {

double parse_percent(const std::string& text, const std::string& option) {
  std::string digits = text;
  if (!digits.empty() && digits.back() == '%') digits.pop_back();
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (digits.empty() || used != digits.size() || !std::isfinite(value) || value < 0 || value >= 100) {
    throw UsageError(option + " " + text + ": expected a percentage from 0 to 100, such as 10%");
  }
  return value / 100.0;
}

CheckOutcome check_report(const Report& report, const Report* baseline, const CheckSettings& settings) {
  CheckOutcome o;
  auto check = [&o](bool holds, const std::string& line) { (holds ? o.passed : o.failed).push_back(line); };
  const std::string pct = format_number(settings.max_regression * 100, "%g") + "%";

  if (report.sweep) {
    check(!report.sweep->incomplete, report.sweep->incomplete
                                         ? "the sweep is incomplete (" + report.sweep->incomplete_reason + ")"
                                         : "the sweep is complete");
    int failed_arms = 0;
    for (const auto& a : report.sweep->arms) failed_arms += a.status != ArmStatus::completed;
    if (failed_arms > 0) {
      o.passed.push_back(std::to_string(failed_arms) + " arm(s) diverged or ran out of memory (reported, not a failure)");
    }
  }
  if (settings.min_batch) {
    if (!report.probe) {
      check(false, "--min-batch " + std::to_string(*settings.min_batch) + ": the report has no probe section");
    } else {
      const auto fit = report.probe->largest_fitting_batch;
      check(fit >= *settings.min_batch, "largest fitting batch " + std::to_string(fit) +
                                            (fit >= *settings.min_batch ? " >= " : " < ") + "--min-batch " +
                                            std::to_string(*settings.min_batch));
    }
  }
  if (!baseline) return o;

  const auto differences = workload_differences(baseline->workload, report.workload);
  if (!differences.empty()) {
    check(false, "the baseline trains a different workload (" + differences.front() + "): not comparable");
    return o;
  }
  if (report.probe && baseline->probe) {
    const double now = double(report.probe->largest_fitting_batch);
    const double before = double(baseline->probe->largest_fitting_batch);
    const bool holds = now >= before * (1.0 - settings.max_regression);
    check(holds, "largest fitting batch " + std::to_string(report.probe->largest_fitting_batch) + " vs baseline " +
                     std::to_string(baseline->probe->largest_fitting_batch) + " (" +
                     format_number(before > 0 ? (now / before - 1) * 100 : 0.0, "%+.1f") + "%, allowed -" + pct + ")");
  } else if (baseline->probe) {
    check(false, "the baseline has a probe section and this report has none");
  }
  if (report.sweep && baseline->sweep) {
    int compared = 0;
    for (const auto& b : report.sweep->summaries) {
      const BatchSummary* base = nullptr;
      for (const auto& x : baseline->sweep->summaries) if (x.batch_size == b.batch_size) base = &x;
      if (!base || !b.samples_per_s || !base->samples_per_s || base->samples_per_s->mean <= 0) continue;
      ++compared;
      const double change = b.samples_per_s->mean / base->samples_per_s->mean - 1;
      const auto test = mann_whitney_u(step_times_at(*report.sweep, b.batch_size),
                                       step_times_at(*baseline->sweep, b.batch_size));
      const bool significant = test && test->p_value < settings.alpha;
      if (change < -settings.max_regression && !significant) {
        o.passed.push_back("batch " + std::to_string(b.batch_size) + ": samples/s " +
                           format_number(change * 100, "%+.1f") + "% against the baseline, but " +
                           (test ? "within noise (U test p " + format_number(test->p_value, "%.2g") + ")"
                                 : std::string("too few step times to tell it from noise")));
      }
      if (change < -settings.max_regression && significant) {
        check(false, "batch " + std::to_string(b.batch_size) + ": samples/s " + format_number(b.samples_per_s->mean, "%.1f") +
                         " vs baseline " + format_number(base->samples_per_s->mean, "%.1f") + " (" +
                         format_number(change * 100, "%+.1f") + "%, beyond the allowed -" + pct + ", U test p " +
                         format_number(test->p_value, "%.2g") + ")");
      }
    }
    o.passed.push_back("samples/s compared at " + std::to_string(compared) + " batch size(s) against the baseline");
  }
  return o;
}

}  // namespace batchtune
