#include "reports/tools/check.hpp"

#include <cmath>
#include <map>

#include "reports/tools/compare.hpp"
#include "reports/util/error.hpp"
#include "reports/util/statistics.hpp"
#include "reports/analysis/timing_quality.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

namespace {

// The report on its own: complete, a recommendation, the confidence and the
// smallest largest-batch asked for.
void check_alone(CheckOutcome& o, const Report& report, const CheckSettings& settings) {
  auto check = [&o](bool holds, const std::string& line) { (holds ? o.passed : o.failed).push_back(line); };
  if (report.sweep) {
    check(!report.sweep->incomplete, report.sweep->incomplete
                                         ? "the sweep is incomplete (" + report.sweep->incomplete_reason + ")"
                                         : "the sweep is complete");
    std::map<std::string, int> stopped;
    int stopped_arms = 0;
    for (const auto& a : report.sweep->arms) {
      if (a.status == ArmStatus::completed) continue;
      ++stopped[nlohmann::json(a.status).get<std::string>()];
      ++stopped_arms;
    }
    if (stopped_arms > 0) {
      std::string tally;
      for (const auto& [status, n] : stopped) tally += (tally.empty() ? "" : ", ") + std::to_string(n) + " " + status;
      o.passed.push_back(std::to_string(stopped_arms) + " arm(s) did not complete (" + tally +
                         "; reported, not a failure by itself)");
    }
    // No answer without evidence: a sweep that recommends nothing fails.
    if (!report.recommendation) {
      if (!report.sweep->incomplete) check(false, "the report has a sweep but no recommendation section");
    } else if (!report.recommendation->recommends()) {
      const auto& reasons = report.recommendation->reasons;
      check(false, "no recommended batch size (" + to_string(report.recommendation->objective) + "): " +
                       (reasons.empty() ? std::string("the report gives no reason") : reasons.front()));
    } else {
      o.passed.push_back("recommended batch size " + std::to_string(*report.recommendation->batch_size) +
                         " (confidence " + to_string(report.recommendation->confidence) + ")");
    }
  }
  if (settings.min_confidence) {
    // Confidence runs high > medium > low > none (the enum's order, reversed).
    const std::string wanted = to_string(*settings.min_confidence);
    if (!report.recommendation) {
      check(false, "--min-confidence " + wanted + ": the report has no recommendation");
    } else {
      const Confidence c = report.recommendation->confidence;
      const bool holds = static_cast<int>(c) <= static_cast<int>(*settings.min_confidence);
      std::string line = "confidence " + to_string(c) + (holds ? " meets" : " is below") + " --min-confidence " + wanted;
      const auto& notes = report.recommendation->confidence_notes;
      if (!holds && !notes.empty()) {
        line += " (" + std::to_string(notes.size()) + " note(s) in recommendation.confidence_notes; the first: " +
                notes.front() + ")";
      }
      check(holds, line);
    }
  }
  if (settings.min_batch) {
    if (!report.probe) {
      check(false, "--min-batch " + std::to_string(*settings.min_batch) + ": the report has no probe section");
    } else {
      const auto fit = report.probe->largest_fitting_batch;
      const bool capped_below = report.probe->capped && fit < *settings.min_batch;
      check(fit >= *settings.min_batch,
            "largest fitting batch " + std::to_string(fit) + (fit >= *settings.min_batch ? " >= " : " < ") +
                "--min-batch " + std::to_string(*settings.min_batch) +
                (capped_below ? " (not verified: the probe stopped at " + std::to_string(fit) + ", capped by " +
                                    (report.probe->cap_source.empty() ? "--max-batch" : report.probe->cap_source) +
                                    "; `batchtune probe` searches to the memory edge)"
                              : ""));
    }
  }
}

// The probe's largest fitting batch against the baseline's.
void check_probe_against(CheckOutcome& o, const Report& report, const Report& baseline_report,
                         const CheckSettings& settings, const std::string& pct) {
  const Report* baseline = &baseline_report;
  auto check = [&o](bool holds, const std::string& line) { (holds ? o.passed : o.failed).push_back(line); };
  if (report.probe && baseline->probe) {
    const double now = double(report.probe->largest_fitting_batch);
    const double before = double(baseline->probe->largest_fitting_batch);
    const bool holds = now >= before * (1.0 - settings.max_regression);
    if (!holds && report.probe->capped) {
      // Capped at the sweep's largest size (throughput knee, training set,
      // --max-batch): a lower bound of the edge, not a measured regression.
      o.warnings.push_back("largest fitting batch " + std::to_string(report.probe->largest_fitting_batch) +
                           " is where the probe was capped (max " + std::to_string(report.probe->max_batch) +
                           "), not a measured edge; the baseline's is " +
                           std::to_string(baseline->probe->largest_fitting_batch) +
                           ": not compared (probe with the same --max-batch to compare edges)");
    } else
    check(holds, "largest fitting batch " + std::to_string(report.probe->largest_fitting_batch) + " vs baseline " +
                     std::to_string(baseline->probe->largest_fitting_batch) + " (" +
                     format_number(before > 0 ? (now / before - 1) * 100 : 0.0, "%+.1f") + "%, allowed -" + pct + ")");
  } else if (baseline->probe) {
    check(false, "the baseline has a probe section and this report has none");
  }
}

// Each size's samples/s against the baseline's: a U test on block means.
void check_throughput_against(CheckOutcome& o, const Report& report, const Report& baseline_report,
                              const CheckSettings& settings, const std::string& pct) {
  const Report* baseline = &baseline_report;
  auto check = [&o](bool holds, const std::string& line) { (holds ? o.passed : o.failed).push_back(line); };
  if (report.sweep && baseline->sweep) {
    // A heavy tail or a loaded machine on either side: the verdicts stand as
    // measured (the step clock is what runs took) and say they are unreliable.
    const TimingQuality now_timing = timing_quality(*report.sweep);
    const TimingQuality base_timing = timing_quality(*baseline->sweep);
    std::string timing;
    if (now_timing.unreliable()) timing = "this report's timing is unreliable: " + short_description(now_timing);
    if (base_timing.unreliable()) {
      timing += (timing.empty() ? "the" : "; the") + std::string(" baseline's timing is unreliable: ") +
                short_description(base_timing);
    }
    if (now_timing.unreliable()) o.warnings.push_back(describe(now_timing));
    if (base_timing.unreliable()) o.warnings.push_back("the baseline: " + describe(base_timing));
    int compared = 0;
    std::vector<std::int64_t> few_repetitions;
    for (const auto& b : report.sweep->summaries) {
      const BatchSummary* base = nullptr;
      for (const auto& x : baseline->sweep->summaries) if (x.batch_size == b.batch_size) base = &x;
      if (!base || !b.samples_per_s || !base->samples_per_s || base->samples_per_s->mean <= 0) continue;
      ++compared;
      const double change = b.samples_per_s->mean / base->samples_per_s->mean - 1;
      // Block means of the per-step times (data + compute), not the raw
      // steps: consecutive steps are correlated (statistics.hpp).
      const std::vector<double> now = step_time_repetitions(*report.sweep, b.batch_size);
      const std::vector<double> before = step_time_repetitions(*baseline->sweep, b.batch_size);
      const auto test = mann_whitney_u(now, before);
      const bool significant = test && test->p_value < settings.alpha;
      const std::string reps = std::to_string(now.size()) + " vs " + std::to_string(before.size()) + " repetitions";
      if (!test || std::min(test->n1, test->n2) < kReliableRepetitions) few_repetitions.push_back(b.batch_size);
      if (change < -settings.max_regression && !significant) {
        o.passed.push_back("batch " + std::to_string(b.batch_size) + ": samples/s " +
                           format_number(change * 100, "%+.1f") + "% against the baseline, but " +
                           (test ? "within noise (U test p " + format_number(test->p_value, "%.2g") + ", " + reps + ")"
                                 : "too few repetitions to tell it from noise (" + reps + ")"));
      }
      if (change < -settings.max_regression && significant) {
        check(false, "batch " + std::to_string(b.batch_size) + ": samples/s " + format_number(b.samples_per_s->mean, "%.1f") +
                         " vs baseline " + format_number(base->samples_per_s->mean, "%.1f") + " (" +
                         format_number(change * 100, "%+.1f") + "%, beyond the allowed -" + pct + ", U test p " +
                         format_number(test->p_value, "%.2g") + ", " + reps +
                         (std::min(test->n1, test->n2) < kReliableRepetitions ? ", unreliable" : "") +
                         (timing.empty() ? "" : "; " + timing) + ")");
      }
    }
    o.passed.push_back("samples/s compared at " + std::to_string(compared) + " batch size(s) against the baseline" +
                       " (U test on block means of " + std::to_string(kStepsPerBlock) + " steps)");
    if (!few_repetitions.empty()) {
      std::string sizes;
      for (auto size : few_repetitions) sizes += (sizes.empty() ? "" : ", ") + std::to_string(size);
      o.warnings.push_back("fewer than " + std::to_string(kReliableRepetitions) +
                           " repetitions on a side at batch size(s) " + sizes +
                           ": the throughput test is unreliable there; run longer arms (--budget) or more --seeds");
    }
  }
}

}  // namespace

CheckOutcome check_report(const Report& report, const Report* baseline, const CheckSettings& settings) {
  CheckOutcome o;
  const std::string pct = format_number(settings.max_regression * 100, "%g") + "%";
  check_alone(o, report, settings);
  auto check = [&o](bool holds, const std::string& line) { (holds ? o.passed : o.failed).push_back(line); };
  if (!baseline) return o;

  const auto differences = workload_differences(baseline->workload, report.workload);
  if (!differences.empty()) {
    check(false, "the baseline trains a different workload (" + differences.front() + "): not comparable");
    return o;
  }
  check_probe_against(o, report, *baseline, settings, pct);
  check_throughput_against(o, report, *baseline, settings, pct);
  return o;
}

}  // namespace batchtune
