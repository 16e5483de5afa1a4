// `batchtune compare`: reports from different machines, builds, thread counts
// or precisions side by side, matched by batch size, with ratios against the
// first report and a Mann-Whitney U test, so that a difference within noise
// is marked as such (after google/benchmark's tools/compare.py). The test's
// repetitions are block means of the per-step times (data + compute: the step
// clock samples/s is made of; statistics.hpp, block_means, says why blocks
// and not the raw steps), and fewer than kReliableRepetitions of them are
// warned about.
// Torch-free.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/util/json_util.hpp"
#include "reports/model/report_reader.hpp"

namespace batchtune {

// How one report's step times at a batch size compare with the first
// report's, by the U test.
// untested: a throughput-only report's scan point (one mean step a size,
// no steps kept to test), set beside the other only as a ratio.
enum class CompareVerdict { baseline, faster, slower, within_noise, too_few_repetitions, not_run, not_in_baseline, untested };
NLOHMANN_JSON_SERIALIZE_ENUM(CompareVerdict, {{CompareVerdict::baseline, "baseline"},
                                              {CompareVerdict::faster, "faster"},
                                              {CompareVerdict::slower, "slower"},
                                              {CompareVerdict::within_noise, "within noise"},
                                              {CompareVerdict::too_few_repetitions, "too few repetitions"},
                                              {CompareVerdict::not_run, "not run"},
                                              {CompareVerdict::not_in_baseline, "not in baseline"},
                                              {CompareVerdict::untested, "untested (scan)"}})
inline std::string to_string(CompareVerdict v) { return json_util::enum_word(v); }

struct CompareSettings {
  std::vector<std::string> labels;  // --label, one per report; empty: from each report's context
  bool force = false;               // compare different workloads anyway
  double alpha = 0.05;              // significance level of the U test
};

// One report's figures at one batch size.
struct ComparedCell {
  std::optional<double> samples_per_s;        // mean across seeds
  std::optional<double> step_s;               // the step clock: mean of the per-step times (data + compute), all seeds
  std::optional<double> median_step_s;        // their median, beside it
  int repetitions = 0;                        // block means the U test used (step_time_repetitions)
  std::optional<double> throughput_ratio;     // samples/s against the first report's
  std::optional<double> p_value;              // U test of the repetitions against the first report's
  bool unreliable = false;                    // tested on fewer than kReliableRepetitions on a side
  // This report's or the baseline's timing is unreliable (timing_quality.hpp):
  // the verdict says how the two runs went, not which machine is faster. For
  // a whole-run tune's predicted run time: that report's timing.
  bool timing_unreliable = false;
  CompareVerdict verdict = CompareVerdict::not_run;
  std::optional<double> seconds_to_target;    // mean interpolated crossing, when every seed reached the target
  std::optional<double> time_to_target_ratio; // against the first report's
  // A whole-run report's predicted time for the planned run at this size
  // (whole_run.predictions), to set beside another report's measured one.
  std::optional<double> predicted_run_seconds;
};

struct ComparedBatch {
  std::int64_t batch_size = 0;
  std::vector<ComparedCell> cells;  // one per report
};

struct ComparedReport {
  std::string label;
  std::string path;
  std::string machine;            // machine_label of its context
  std::string precision;
  std::string device;
  std::optional<int> torch_threads;
  int world_size = 1;             // data-parallel ranks; sizes are global batches either way
  std::optional<std::int64_t> largest_fitting_batch;
  std::optional<double> largest_fitting_ratio;
  // The probe stopped at a cap (throughput knee, training set, --max-batch):
  // largest_fitting_batch is a lower bound of the edge, and ratios say so.
  std::string capped_by;
  std::optional<std::uint64_t> capacity_bytes;
  std::optional<RecommendationStatus> recommendation_status;  // none: no recommendation section ("absent")
  std::optional<std::int64_t> recommended_batch;
  std::optional<double> recommended_learning_rate;
  std::optional<double> recommended_seconds_to_target;  // predicted, else measured
  std::optional<double> recommended_time_ratio;
  std::optional<double> target_loss;
  bool whole_run = false;          // its recommendation is for a planned run (sweep --epochs)
  // timing_quality's short description when its step times are unreliable
  // (a heavy tail, a loaded machine); empty when sound.
  std::string timing_unreliable;
};

struct Comparison {
  std::vector<ComparedReport> reports;
  std::vector<ComparedBatch> batches;     // every batch size any report swept, ascending
  std::vector<std::string> workload_differences;  // empty when the workloads match
  std::vector<std::string> notes;         // settings that differ and make some figures incomparable
  std::vector<std::string> warnings;      // verdicts resting on too few repetitions
  bool forced = false;
  double alpha = 0.05;
};

// What differs between two workloads, as "field: a vs b"; empty when they
// are the same workload (device, precision and seed may differ).
std::vector<std::string> workload_differences(const WorkloadInfo& a, const WorkloadInfo& b);

// Throws UsageError when the workloads differ and settings.force is off, or
// when the labels do not match the reports.
Comparison compare_reports(const std::vector<Report>& reports, const CompareSettings& settings);

nlohmann::ordered_json comparison_to_json(const Comparison& c);
void render_comparison_text(std::ostream& out, const Comparison& c);
void render_comparison_markdown(std::ostream& out, const Comparison& c);

// Every per-step time (data + compute) of the arms at one batch size (every
// seed, every status), in the order run.
std::vector<double> step_times_at(const SweepResult& sweep, std::int64_t batch_size);

// The U test's repetitions at one batch size: the block medians
// (statistics.hpp) of each arm's per-step times, over every arm (seed).
std::vector<double> step_time_repetitions(const SweepResult& sweep, std::int64_t batch_size);

}  // namespace batchtune
