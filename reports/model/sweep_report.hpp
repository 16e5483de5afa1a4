// The sweep section of a report: one arm per (batch size, seed), with raw
// samples (per-step times, the loss at every step, every evaluation) beside
// the summaries, and a summary per batch size across seeds. Plain data;
// tuner/run/sweep.cpp fills it in.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/util/json_util.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune {

// What each arm's budget counts.
enum class BudgetKind { samples, steps, seconds };
NLOHMANN_JSON_SERIALIZE_ENUM(BudgetKind, {{BudgetKind::samples, "samples"},
                                          {BudgetKind::steps, "steps"},
                                          {BudgetKind::seconds, "seconds"}})
inline std::string to_string(BudgetKind k) { return json_util::enum_word(k); }
inline std::optional<BudgetKind> parse_budget_kind(std::string_view text) {
  return json_util::parse_enum<BudgetKind>(text);
}

// The learning rate per batch size relative to the base batch's: unscaled,
// in proportion to the batch, or to its square root.
enum class LrScaling { none, linear, sqrt };
NLOHMANN_JSON_SERIALIZE_ENUM(LrScaling, {{LrScaling::none, "none"},
                                         {LrScaling::linear, "linear"},
                                         {LrScaling::sqrt, "sqrt"}})
inline std::string to_string(LrScaling s) { return json_util::enum_word(s); }
inline std::optional<LrScaling> parse_lr_scaling(std::string_view text) {
  return json_util::parse_enum<LrScaling>(text);
}

// failed: an error that is neither memory nor divergence (the model's own
// exception); it ends the sweep, which keeps the arms before it.
enum class ArmStatus { completed, diverged, out_of_memory, interrupted, failed };
NLOHMANN_JSON_SERIALIZE_ENUM(ArmStatus, {{ArmStatus::completed, "completed"},
                                         {ArmStatus::diverged, "diverged"},
                                         {ArmStatus::out_of_memory, "out_of_memory"},
                                         {ArmStatus::interrupted, "interrupted"},
                                         {ArmStatus::failed, "failed"}})
inline std::string to_string(ArmStatus s) { return json_util::enum_word(s); }

struct LossPoint {
  std::int64_t step = 0;
  std::int64_t samples = 0;
  double seconds = 0;  // training time so far, evaluations excluded
  double loss = 0;
};

struct EvalPoint {
  std::int64_t step = 0;
  std::int64_t samples = 0;
  double seconds = 0;
  double loss = 0;
  std::optional<double> accuracy;
};

// Time to target: where the validation loss crossed the target, interpolated
// linearly between the last evaluation above it and the first at or below it
// (evaluations are a fifth of the budget apart by default; reading the first
// evaluation at the target would quantise every figure to that interval).
// Fractional steps and samples on purpose. The one meaning of "time to
// target" in a report: arms, summaries, the recommendation and every
// rendering use it (computed by time_to_target below).
struct TimeToTarget {
  double steps = 0;
  double samples = 0;
  double seconds = 0;
};

// The first evaluation at or below the target: the coarse end of the
// interval the crossing was interpolated in, kept so a reader can check it.
struct EvaluationAtTarget {
  std::int64_t step = 0;
  std::int64_t samples = 0;
  double seconds = 0;
};

struct SweepArm {
  std::int64_t batch_size = 0;
  std::uint64_t seed = 0;
  double learning_rate = 0;
  ArmStatus status = ArmStatus::completed;
  std::string message;                 // why it stopped, when not completed
  std::optional<std::int64_t> failed_at_step;
  std::int64_t steps = 0;
  std::int64_t samples = 0;
  double train_seconds = 0;            // compute + data, evaluations excluded
  std::int64_t warmup_steps_excluded = 0;
  // Steps run after the last evaluation only to time this size, when the
  // budget left fewer than 5 warm steps (compute_seconds then holds those); 0
  // otherwise. They count in no other figure.
  std::int64_t timing_only_steps = 0;
  std::vector<double> compute_seconds;  // raw, every step after the warm-up: compute, synchronised
  std::vector<double> data_seconds;     // raw, same steps: waiting for the batch
  // The step clock (statistics.hpp, step_times_of): the mean of the timed
  // steps' data + compute; samples_per_s and steps_per_s are made of it.
  // The median and percentiles beside it show the tail.
  std::optional<double> mean_step_seconds;
  std::optional<double> median_step_seconds;  // of data + compute, as all step statistics
  std::optional<double> p10_step_seconds;
  std::optional<double> p90_step_seconds;
  std::optional<double> samples_per_s;  // batch / mean_step_seconds
  std::optional<double> steps_per_s;    // 1 / mean_step_seconds
  std::optional<double> data_share;    // data time / (data + compute)
  std::uint64_t peak_bytes = 0;
  // Other processes' CPU use while this arm ran, in cores (Linux /proc,
  // machine_info.hpp); none where unreadable, and under a launch (the other
  // ranks on the host would count).
  std::optional<double> other_cpu_cores;
  // Variable-size data only: the share of the training batches' input
  // elements that were padding (each batch padded to its own largest).
  std::optional<double> padding_share;
  double initial_weights_sum = 0;      // sum of all initial parameters: equal across arms of one seed
  std::vector<LossPoint> train_loss;   // every step
  std::vector<EvalPoint> evaluations;
  std::optional<double> final_validation_loss;
  std::optional<double> final_validation_accuracy;
  // The loss on as many training samples as each evaluation's validation
  // samples, at the arm's last evaluation (the same weights, eval mode):
  // with final_validation_loss, the generalisation gap. Completed arms only.
  std::optional<double> final_training_loss;
  std::optional<TimeToTarget> target;  // interpolated crossing of the target loss (time_to_target)
  std::optional<EvaluationAtTarget> first_evaluation_at_target;
  // Data-parallel arms only (empty, none otherwise): the gradient allreduce
  // of each timed step, apart from compute (which then excludes it); how
  // much of the step the ranks spent computing (mean compute / mean
  // step); rank 0 alone at the whole global batch (the others waiting),
  // and from it the scaling efficiency against one device:
  // single_rank_step_seconds / (ranks x mean_step_seconds).
  std::vector<double> communication_seconds;
  std::optional<double> compute_share;
  std::optional<double> single_rank_step_seconds;
  std::optional<double> scaling_efficiency;
  // Data-parallel arms only: each rank's sum of all parameters at the arm's
  // end, in rank order: equal when the ranks stayed in step.
  std::vector<double> final_weights_sum_per_rank;
};

struct BatchSummary {
  std::int64_t batch_size = 0;
  double learning_rate = 0;
  int arms = 0;
  int completed = 0;
  std::optional<Spread> samples_per_s;
  std::optional<Spread> final_validation_loss;
  std::optional<Spread> final_validation_accuracy;
  // The arms' time to target (interpolated), only when every arm of this
  // size reached it: a mean over the lucky seeds would flatter the size.
  std::optional<Spread> seconds_to_target;
  std::optional<Spread> samples_to_target;
  std::optional<Spread> steps_to_target;
  std::uint64_t peak_bytes = 0;
  std::optional<double> padding_share;  // the arms' mean; variable-size data only
  // Generalisation, over the completed arms (every size trained the same
  // samples under a samples budget): the training loss at the arm's end
  // (final_training_loss; for a report without it, the running training loss
  // over the last fifth of the steps), the final validation loss minus it,
  // and whether this size's final validation loss is worse than the best
  // size's by more than the seed spread (the larger of the two sizes'
  // standard deviations); none with one seed.
  std::optional<Spread> final_training_loss;
  std::optional<Spread> generalization_gap;
  std::optional<bool> validation_worse_than_best;
};

// The arm's final_training_loss, or for a report without one the mean
// running training loss over the last fifth of its steps (at least one);
// none without a finite one.
std::optional<double> training_loss_at_end(const SweepArm& arm);

// One point of the throughput scan that chooses `auto` batch sizes: a few
// timed steps at a power of two, before the sweep.
struct ScanPoint {
  std::int64_t batch_size = 0;
  double mean_step_seconds = 0;    // the step clock: data + compute
  double median_step_seconds = 0;
  double samples_per_s = 0;        // batch / mean_step_seconds
  std::uint64_t peak_bytes = 0;
  int timed_steps = 0;
};

// One part of a sweep split over machines (`sweep --shard I/N`): this
// report holds every N-th arm, from the I-th (1-based) on, of the arms the
// whole sweep plans (seeds x batch_sizes, seed by seed); `batchtune merge`
// puts the N parts back together.
struct ShardInfo {
  int index = 1;
  int count = 1;
  std::vector<std::int64_t> batch_sizes;  // the whole sweep's sizes, not only this part's
  int arms_planned = 0;                   // the whole sweep's arms
};

// A data-parallel sweep (launched by torchrun or srun): every arm trained
// on `world_size` processes, each global batch split across them and the
// gradients averaged by allreduce. Sizes in the report are global batches.
struct RankInfo {
  int rank = 0;
  std::string host;
  std::string device;
  std::int64_t safe_max_micro_batch = 0;  // this rank's probe; 0 when none ran
};
struct DataParallelInfo {
  int world_size = 1;
  std::string backend;      // gloo, nccl
  std::string launcher;     // torchrun (RANK/WORLD_SIZE), slurm (SLURM_PROCID/SLURM_NTASKS)
  std::vector<RankInfo> ranks;
};

// Wall-clock seconds of each phase of a sweep command (0 for a phase not run).
struct PhaseSeconds {
  double probe = 0;
  double throughput_scan = 0;
  double training = 0;     // the arms' training steps, evaluations excluded
  double evaluation = 0;   // the arms' validation passes
  double noise_scale = 0;
  double total = 0;        // the whole command, start to report
};

// What the machine was doing while the arms were timed: the conditions a
// step time holds for (reports/analysis/timing_quality.hpp reads them).
struct TimingConditions {
  int threads = 0;       // intra-op threads the steps ran on
  int usable_cores = 0;  // cores this process could run on
  // Other processes' CPU use over all the arms, in cores; none where it
  // could not be read (or under a launch: the other ranks would count).
  std::optional<double> other_cpu_cores;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TimingConditions, threads, usable_cores, other_cpu_cores)

// Where a report's target loss came from: the user's --target-loss, or
// batchtune's choice (its words in target_source). The JSON keeps the words
// only; the origin is read back from them (target_origin_of).
enum class TargetOrigin { none, given, chosen };
// The words of a target the user gave.
inline const std::string kGivenTargetWords = "--target-loss";
TargetOrigin target_origin_of(const std::optional<double>& loss, const std::string& words);

struct SweepResult {
  BudgetKind budget_kind = BudgetKind::samples;
  double budget_value = 0;
  LrScaling lr_scaling = LrScaling::none;
  std::int64_t base_batch = 0;
  double base_learning_rate = 0;
  double warmup_share = 0;       // share of each arm's steps with linear warm-up
  std::int64_t eval_every_samples = 0;
  std::int64_t eval_samples = 0;  // validation samples per evaluation
  std::optional<double> target_loss;
  TargetOrigin target_origin = TargetOrigin::none;
  std::string target_source;     // kGivenTargetWords, or how it was chosen
  int seeds = 1;
  std::string precision = "fp32";
  // Variable-size data only: how batches were formed, "padded" (random, each
  // padded to its own largest) or "bucketed" (by size); empty otherwise.
  std::string batching;
  std::string batch_sizes_source;  // "auto: ..." or "--batch-sizes"
  bool incomplete = false;
  std::string incomplete_reason;
  // How `auto` sizes were cut: the scan, and the rule's outcome in words.
  std::vector<ScanPoint> throughput_scan;
  std::string throughput_knee;
  PhaseSeconds phase_seconds;
  std::vector<SweepArm> arms;
  std::vector<BatchSummary> summaries;
  std::optional<ShardInfo> shard;                 // a part of a sharded sweep
  std::optional<DataParallelInfo> data_parallel;  // arms trained on several processes
  std::optional<TimingConditions> timing_conditions;  // none in reports written before it
};

// Data plus compute (plus, data-parallel, communication) time of each timed
// step: what samples/s, the step-time statistics and the throughput tests
// are made of.
std::vector<double> step_total_seconds(const SweepArm& arm);

// The arm's step clock: the mean of step_total_seconds (the field, or for a
// report written before it existed, from the raw steps); none untimed.
std::optional<double> step_clock_seconds(const SweepArm& arm);

// A `sweep --throughput-only` record: the scan (its points, or at least
// its outcome in words), no arms and no budget.
bool is_throughput_only(const SweepResult& s);

// Where `arm`'s validation loss first crossed `target_loss` (see TimeToTarget);
// none when it never did, or a non-finite loss came first (it diverged). A
// first evaluation already at the target is the crossing itself.
std::optional<TimeToTarget> time_to_target(const SweepArm& arm, double target_loss);
std::optional<EvaluationAtTarget> first_evaluation_at_target(const SweepArm& arm, double target_loss);

// Fills in target_loss (when not given: the median of the completed arms'
// best validation losses, which at least half of them reach), then
// summarise_targets.
void summarise_sweep(SweepResult& sweep);
// The user's target loss (--target-loss): loss, origin and words.
void give_target(SweepResult& sweep, double loss);
// Each arm's target and first_evaluation_at_target for sweep.target_loss,
// and the per-batch summaries (rebuilt).
void summarise_targets(SweepResult& sweep);

void to_json(nlohmann::json& j, const LossPoint& p);
void from_json(const nlohmann::json& j, LossPoint& p);
void to_json(nlohmann::json& j, const EvalPoint& p);
void from_json(const nlohmann::json& j, EvalPoint& p);
void to_json(nlohmann::json& j, const TimeToTarget& t);
void from_json(const nlohmann::json& j, TimeToTarget& t);
void to_json(nlohmann::json& j, const EvaluationAtTarget& t);
void from_json(const nlohmann::json& j, EvaluationAtTarget& t);
void to_json(nlohmann::json& j, const SweepArm& a);
void from_json(const nlohmann::json& j, SweepArm& a);
void to_json(nlohmann::json& j, const Spread& s);
void from_json(const nlohmann::json& j, Spread& s);
void to_json(nlohmann::json& j, const BatchSummary& s);
void from_json(const nlohmann::json& j, BatchSummary& s);
void to_json(nlohmann::json& j, const ScanPoint& p);
void from_json(const nlohmann::json& j, ScanPoint& p);
void to_json(nlohmann::json& j, const PhaseSeconds& p);
void from_json(const nlohmann::json& j, PhaseSeconds& p);
void to_json(nlohmann::json& j, const ShardInfo& s);
void from_json(const nlohmann::json& j, ShardInfo& s);
void to_json(nlohmann::json& j, const RankInfo& r);
void from_json(const nlohmann::json& j, RankInfo& r);
void to_json(nlohmann::json& j, const DataParallelInfo& d);
void from_json(const nlohmann::json& j, DataParallelInfo& d);
void to_json(nlohmann::json& j, const SweepResult& s);
void from_json(const nlohmann::json& j, SweepResult& s);

}  // namespace batchtune
