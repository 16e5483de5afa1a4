// recommend()'s stages and what they pass between them (internal to
// reports/analysis/): recommend.cpp measures, fits, predicts, chooses and
// plans; recommend_wording.cpp rates the confidence and words the reasons.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reports/analysis/recommend.hpp"

namespace batchtune::recommend_stages {

// Below this relative difference two throughputs are never told apart: drift
// of the machine between arms is about this large even when the steps within
// an arm agree closely.
constexpr double kThroughputNoiseFloor = 0.01;

// What the sweep measured at one batch size, across seeds.
struct Measured {
  std::int64_t batch = 0;
  int arms = 0;
  int completed = 0;
  int reached = 0;                          // arms whose validation loss crossed the target
  std::optional<double> step_s;             // the step clock: mean wall time per step (compute + data)
  std::optional<double> samples_per_s;
  // The relative uncertainty of samples_per_s: twice the standard error of
  // the block-mean throughputs (statistics.hpp), or the spread of single
  // steps when there is one block; at least kThroughputNoiseFloor.
  double throughput_noise = kThroughputNoiseFloor;
  // Time to target (the interpolated crossing, sweep_report's time_to_target),
  // mean over seeds, when every seed crossed: the same rule and numbers as
  // sweep.summaries.
  std::optional<double> steps_to_target;
  std::optional<double> samples_to_target;
  std::optional<double> seconds_to_target;
  std::optional<double> seconds_spread;     // relative: stddev / mean across seeds
  std::optional<double> final_loss;         // mean over the completed arms
  std::optional<double> final_accuracy;     // mean over the completed arms
  double learning_rate = 0;
};

// Predicted times this close to the fastest count as a tie.
constexpr double kFlatBand = 0.05;
// A learning rate or an effective batch further than this factor outside
// what the sweep ran is untested.
constexpr double kLearningRateReach = 2.0;
constexpr double kEffectiveBatchReach = 4.0;
// A classifier whose validation accuracy is at most this factor above chance
// (1 / num_classes) has not learned.
constexpr double kChanceSlack = 1.1;

// The sizes the sweep ran and the sizes the probe allows.
struct Range {
  std::int64_t multiple = 1;           // the probe's --multiple-of
  std::int64_t smallest_swept = 0;
  std::int64_t largest_swept = 0;
  std::int64_t smallest_possible = 1;  // smaller sizes cannot train (BatchNorm)
  std::int64_t max_fit = 0;            // the probe's safe maximum, else the largest swept size
};

// S(B) and t(B), and the (batch, value) points they were fitted to.
struct Fits {
  std::vector<std::pair<double, double>> steps_points;  // sizes that reached the target in every seed
  std::vector<std::pair<double, double>> time_points;   // mean step times (the step clock)
  std::optional<StepsFit> steps;
  std::optional<StepTimeFit> step_time;
};

// What the stages after measuring read.
struct Evidence {
  const SweepResult& sweep;
  const WorkloadInfo& workload;
  const RecommendSettings& settings;
  std::vector<Measured> measured;  // one per swept size, ascending
  Range range;
  Fits fits;

  const Measured* measured_at(std::int64_t batch) const {
    for (const auto& m : measured) if (m.batch == batch) return &m;
    return nullptr;
  }
  bool about_target() const {
    return settings.objective == Objective::time_to_target || settings.objective == Objective::sample_efficiency;
  }
};

// The objective's pick, before an --effective-batch replaces it, and what the
// reasons say about it.
struct Choice {
  std::int64_t batch = 0;
  std::vector<std::int64_t> near_best;  // sizes tied with the best (within kFlatBand, or within noise)
  std::optional<std::int64_t> fastest;  // time-to-target: the shortest prediction, before the tie rule
  std::string basis;                    // predicted | measured | max-fit
  const Measured* best_rate = nullptr;  // throughput: the highest
  // The generalisation constraint: what it refused, the best final
  // validation loss it was held against, and the pick without it.
  std::vector<std::int64_t> refused;
  std::optional<std::int64_t> best_validation_batch;
  double best_validation_loss = 0;
  std::optional<std::int64_t> unconstrained;
};

// How the recommended batch runs: micro-batches x accumulation steps.
struct Plan {
  std::int64_t batch = 0;
  std::int64_t micro = 0;
  std::int64_t accumulation = 1;
  std::optional<double> accumulated_seconds;  // predicted time to target when accumulating
};

const BatchPrediction* prediction_at(const std::vector<BatchPrediction>& predictions, std::int64_t batch);
// "16, 32 and 64".
std::string sizes_text(const std::vector<std::int64_t>& sizes);

// Stage 5: confidence from the seed spread, the fit quality, and how far the
// answer stands from the evidence. Each weakness is a note and a strike.
void rate_confidence(Recommendation& r, const Evidence& e, const Choice& choice);
// Stage 6: reasons a person can check against the numbers.
std::vector<std::string> reasons(const Recommendation& r, const Evidence& e, const Choice& choice, const Plan& planned,
                                 const NoiseScale& noise);

}  // namespace batchtune::recommend_stages
