// Turning a sweep into a recommendation: steps-to-target fitted to
// S(B) = S_min (1 + B_crit / B), step time t(B) from the measured step clock (mean steps),
// T(B) = S(B) t(B) predicted for every feasible batch size, the objective's
// choice, its learning rate and the reasons (../shared/SCIENCE.md). Pure
// computation over the report model, torch-free on purpose: `batchtune report
// --objective` recomputes it on any machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reports/model/probe_report.hpp"
#include "reports/model/recommendation.hpp"
#include "reports/model/sweep_report.hpp"
#include "reports/model/workload_info.hpp"

namespace batchtune {

// The objectives' words, for --objective.
inline const std::vector<std::string>& recommendation_objectives() {
  static const std::vector<std::string> names = json_util::enum_words<Objective>();
  return names;
}

// The learning rate at batch B under a scaling rule relative to (base_batch, base_lr).
double scaled_learning_rate(LrScaling rule, double base_lr, std::int64_t base_batch, std::int64_t batch);

// Least squares of steps against 1/B over (batch, steps) points. None with
// fewer than two distinct sizes, or when the intercept is not positive (steps
// still fall as fast as 1/B: no sign of a critical batch in the range).
std::optional<StepsFit> fit_steps_to_target(const std::vector<std::pair<double, double>>& batch_steps);

// t(B) = t0 + c B, least squares in relative error over (batch, seconds).
std::optional<StepTimeFit> fit_step_time(const std::vector<std::pair<double, double>>& batch_seconds);

// Step time at B by log-log interpolation between the measured (batch,
// seconds) points, sorted by batch; clamped to the end segments' slopes outside.
double interpolate_step_time(const std::vector<std::pair<double, double>>& batch_seconds, double batch);

struct RecommendSettings {
  Objective objective = Objective::time_to_target;
  // An effective batch to plan for instead of the objective's choice; above
  // the safe maximum it becomes micro-batch x accumulation steps.
  std::optional<std::int64_t> effective_batch;
  // Generalisation constraint (--max-val-loss-excess): sizes whose final
  // validation loss (mean over seeds) is more than this fraction above the
  // best size's are refused by every objective; a size between swept ones
  // only where both around it pass.
  std::optional<double> max_validation_loss_excess;
};

// The recommendation for a finished sweep. `probe` may be null (a --force
// sweep without one): the largest swept size then stands for the safe maximum.
// No answer without evidence: when no arm completed, or (time-to-target,
// sample-efficiency) no size reached the target in every seed, the result
// has status "none", no batch size, and reasons saying why and what to
// change. Weak evidence (a two-point S(B) fit, the best size at the edge of
// the swept range, an --effective-batch or learning rate far outside what
// was run, accuracy at chance) lowers the confidence with a note each; for
// throughput, sizes within measured noise of the best are a tie and the
// smallest is taken.
Recommendation recommend(const SweepResult& sweep, const ProbeResult* probe, const WorkloadInfo& workload,
                         const NoiseScale& noise, const RecommendSettings& settings);

// Data-parallel: a recommended global batch as each rank carries it
// (micro_batch_size becomes a rank's, data_parallel_ranks the world size),
// with a reason saying so. For a recommendation whose step times were
// measured on `d`'s ranks.
void split_over_ranks(Recommendation& r, const DataParallelInfo& d);

}  // namespace batchtune
