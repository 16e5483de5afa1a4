// The whole job as one call: plan -> throughput scan -> probe -> sweep ->
// noise scale -> recommendation, on any Workload. The command line
// (`batchtune sweep`) and the public API (include/batchtune/batchtune.hpp)
// both map their options onto a TunePlan and call tune(); neither holds any
// of the orchestration. tune() writes no file: the caller writes the report,
// and gets checkpoints (the whole report as it stands) to write if a signal
// comes during a long step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/model/probe_report.hpp"
#include "reports/model/recommendation.hpp"
#include "reports/model/sweep_report.hpp"
#include "reports/model/whole_run.hpp"
#include "tuner/dist/data_parallel.hpp"
#include "tuner/run/probe_runner.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

// What a sweep is asked to do, every option already parsed and checked.
// The whole-run tune (sweep --epochs/--train-samples): a trunk along the
// planned run, arms branched from it, the run predicted at every size.
// The planned run when neither --epochs nor --train-samples is given.
constexpr double kDefaultEpochs = 3.0;

struct WholeRunPlan {
  std::optional<double> epochs;          // the run, in epochs of the training split ...
  std::optional<std::int64_t> train_samples;  // ... or in samples (one of the two)
  std::optional<double> target_accuracy;
  double trunk_share = 0.2;              // of the run, trained at the base batch
  int branch_points = 2;
  double budget_share = 0.4;             // the tune's samples against the run's
  int lr_grid = 0;
  int rate_finalists = 2;                // sizes whose rate is measured (half, twice the rule's)
  // Step times from another machine's report, instead of this one's.
  std::vector<std::pair<std::int64_t, double>> step_seconds;
  std::string step_seconds_source;
};

struct TunePlan {
  // Empty: `auto` (throughput scan, then powers of two up to the knee that
  // the probe verifies). Otherwise these sizes, ascending.
  std::vector<std::int64_t> batch_sizes;
  ProbeSettings probe;                  // memory limit, search, --isolate
  std::optional<BudgetKind> budget_kind;  // none: one epoch of samples, at most 12000
  double budget_value = 0;
  std::optional<LrScaling> lr_scaling;    // none: linear for sgd, sqrt otherwise
  std::int64_t base_batch = 64;
  double warmup = 0.05;
  int seeds = 1;
  std::int64_t eval_every = 0;          // 0: a fifth of the budget
  std::int64_t eval_samples = 0;        // 0: scaled to the budget
  std::optional<double> target_loss;
  bool force = false;                   // listed sizes above the safe maximum; no probe for a list
  Objective objective = Objective::time_to_target;
  std::int64_t effective_batch = 0;     // 0: none
  std::optional<double> max_validation_loss_excess;  // --max-val-loss-excess, a fraction
  int noise_repeats = 16;
  std::optional<WholeRunPlan> whole_run;  // none: the early-target sweep
  // Probe and time steps at every power of two up to the probe's cap (no
  // knee rule, no training): step times for `report --step-times`.
  bool throughput_only = false;
  // `--shard I/N`: this process runs every N-th arm from the I-th; its
  // report recommends nothing until `batchtune merge` joins the N parts.
  int shard_index = 1;
  int shard_count = 1;
};

struct TuneHooks {
  std::ostream* progress = nullptr;     // progress lines; null: none
  bool live_progress = false;           // a terminal: one line rewritten in place
  const std::atomic<bool>* stop = nullptr;  // becomes true: stop, keep what was measured
  // Names what stopped the work, for the report ("SIGINT"); default "a stop request".
  std::function<std::string()> stop_cause;
  // The report as it stands (marked incomplete), after each phase's unit of
  // work, and what was running.
  std::function<void(const nlohmann::ordered_json& report, const std::string& phase)> checkpoint;
  // Set under a data-parallel launch: every rank calls tune() with the same
  // plan; the arms train across the ranks, each rank probes its own device
  // (the smallest safe micro-batch bounds the global sizes), and the report
  // is complete on every rank (the caller writes rank 0's).
  dist::DataParallel* data_parallel = nullptr;
};

enum class TuneEnd {
  complete,      // every arm ran; a recommendation when one could be made
  interrupted,   // `stop` became true; the report holds what was measured
  model_failed,  // an arm failed with the model's own (non-memory) error
  rank_failed,   // data-parallel: another rank died or stopped answering
};

struct TuneOutcome {
  TuneEnd end = TuneEnd::complete;
  std::optional<ProbeResult> probe;
  SweepResult sweep;
  std::optional<Recommendation> recommendation;
  std::optional<WholeRun> whole_run;    // a whole-run tune's measurements and predictions
  std::string recommendation_error;     // why there is none, when computing it failed
  nlohmann::ordered_json report;        // the whole report (schema_version first)
};

// Throws UsageError for a plan the workload cannot run (sizes above the
// training set or the probe's safe maximum, a budget below one batch),
// DoesNotFitError when the smallest batch does not fit.
TuneOutcome tune(const Workload& workload, TunePlan plan, const TuneHooks& hooks);

}  // namespace batchtune
