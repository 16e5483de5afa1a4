// The sweep section of a report: one arm per (batch size, seed), with raw
// samples (per-step times, the loss at every step, every evaluation) beside
// the summaries, and a summary per batch size across seeds. Plain data;
// tuner/sweep.cpp fills it in.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace batchtune {

enum class ArmStatus { completed, diverged, out_of_memory, interrupted };
NLOHMANN_JSON_SERIALIZE_ENUM(ArmStatus, {{ArmStatus::completed, "completed"},
                                         {ArmStatus::diverged, "diverged"},
                                         {ArmStatus::out_of_memory, "out_of_memory"},
                                         {ArmStatus::interrupted, "interrupted"}})

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

struct TargetReached {
  std::int64_t steps = 0;
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
  // budget left fewer than 5 warm steps (step_seconds then holds those); 0
  // otherwise. They count in no other figure.
  std::int64_t timing_only_steps = 0;
  std::vector<double> step_seconds;    // raw, every step after the warm-up: compute, synchronised
  std::vector<double> data_seconds;    // raw, same steps: waiting for the batch
  std::optional<double> median_step_seconds;
  std::optional<double> p10_step_seconds;
  std::optional<double> p90_step_seconds;
  std::optional<double> samples_per_s;
  std::optional<double> steps_per_s;
  std::optional<double> data_share;    // data time / (data + compute)
  std::uint64_t peak_bytes = 0;
  double initial_weights_sum = 0;      // sum of all initial parameters: equal across arms of one seed
  std::vector<LossPoint> train_loss;   // every step
  std::vector<EvalPoint> evaluations;
  std::optional<double> final_validation_loss;
  std::optional<double> final_validation_accuracy;
  std::optional<TargetReached> target;  // first evaluation at or below the target loss
};

// Mean and spread across seeds, for one batch size.
struct Spread {
  double mean = 0;
  double min = 0;
  double max = 0;
  double stddev = 0;
  int n = 0;
};

struct BatchSummary {
  std::int64_t batch_size = 0;
  double learning_rate = 0;
  int arms = 0;
  int completed = 0;
  std::optional<Spread> samples_per_s;
  std::optional<Spread> final_validation_loss;
  std::optional<Spread> final_validation_accuracy;
  std::optional<Spread> seconds_to_target;
  std::optional<Spread> samples_to_target;
  std::optional<Spread> steps_to_target;
  std::uint64_t peak_bytes = 0;
};

struct SweepResult {
  std::string budget_kind;       // samples | steps | seconds
  double budget_value = 0;
  std::string lr_scaling;        // none | linear | sqrt
  std::int64_t base_batch = 0;
  double base_learning_rate = 0;
  double warmup_share = 0;       // share of each arm's steps with linear warm-up
  std::int64_t eval_every_samples = 0;
  std::int64_t eval_samples = 0;  // validation samples per evaluation
  std::optional<double> target_loss;
  std::string target_source;     // "--target-loss", or how it was chosen
  int seeds = 1;
  std::string precision = "fp32";
  std::string batch_sizes_source;  // "auto: ..." or "--batch-sizes"
  bool incomplete = false;
  std::string incomplete_reason;
  std::vector<SweepArm> arms;
  std::vector<BatchSummary> summaries;
};

Spread spread_of(const std::vector<double>& values);

// Fills in target_loss (when not given: the median of the completed arms'
// best validation losses, which at least half of them reach), each arm's
// target, and the per-batch summaries.
void summarise_sweep(SweepResult& sweep);

void to_json(nlohmann::json& j, const LossPoint& p);
void from_json(const nlohmann::json& j, LossPoint& p);
void to_json(nlohmann::json& j, const EvalPoint& p);
void from_json(const nlohmann::json& j, EvalPoint& p);
void to_json(nlohmann::json& j, const TargetReached& t);
void from_json(const nlohmann::json& j, TargetReached& t);
void to_json(nlohmann::json& j, const SweepArm& a);
void from_json(const nlohmann::json& j, SweepArm& a);
void to_json(nlohmann::json& j, const Spread& s);
void from_json(const nlohmann::json& j, Spread& s);
void to_json(nlohmann::json& j, const BatchSummary& s);
void from_json(const nlohmann::json& j, BatchSummary& s);
void to_json(nlohmann::json& j, const SweepResult& s);
void from_json(const nlohmann::json& j, SweepResult& s);

void render_sweep_text(std::ostream& out, const SweepResult& s);

}  // namespace batchtune
