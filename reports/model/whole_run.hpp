// The whole-run section of a report (`sweep --epochs` / `--train-samples`):
// the run the user plans, the trunk trained along it at the base batch, the
// branch points kept on the trunk and the short arms branched from each at
// every candidate size, the critical batch measured at each point and fitted
// against the loss, and the whole run's predicted steps and time at every
// feasible size (Merrill et al. 2025, "Critical Batch Size Revisited";
// McCandlish et al. 2018). Plain data with its JSON; reports/run_analysis/
// turns the measurements into the fits and predictions.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/util/json_util.hpp"
#include "reports/model/sweep_report.hpp"

namespace batchtune {

// The run the recommendation is for.
struct PlannedRun {
  std::int64_t train_samples = 0;        // the whole run's training samples
  std::optional<double> epochs;          // as given (--epochs), or the default's
  std::string source;                    // "--epochs 3", "--train-samples N", "default: ..."
  std::optional<double> target_loss;     // --target-loss: the run's final target
  std::optional<double> target_accuracy; // --target-accuracy
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PlannedRun, train_samples, epochs, source, target_loss, target_accuracy)

// One evaluation along the trunk (the fixed evaluation subset).
struct TrunkPoint {
  std::int64_t step = 0;
  std::int64_t samples = 0;
  double seconds = 0;   // training time so far, evaluations excluded
  double loss = 0;
  std::optional<double> accuracy;
  // In the trunk's later half: the loss at the weights averaged over the
  // steps since the previous point (one iterate scatters by more than the
  // loss falls between points; the curve past the trunk takes its decay
  // from these).
  std::optional<double> averaged_loss;
};
void to_json(nlohmann::json& j, const TrunkPoint& t);
void from_json(const nlohmann::json& j, TrunkPoint& t);

// The simple noise scale along the trunk: squared gradient norms at two
// sizes at the same weights, smoothed (numerators and denominators averaged
// separately over the last few measurements), against the loss there.
struct TrunkNoisePoint {
  std::int64_t samples = 0;
  double loss = 0;                              // the trunk's loss there (training loss, smoothed)
  std::optional<double> simple_noise_scale;     // none: noise dominates (|G|^2 estimate <= 0)
  double gradient_norm_sq = 0;                  // the smoothed |G|^2 estimate
  double trace_covariance = 0;                  // the smoothed tr(Sigma) estimate
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrunkNoisePoint, samples, loss, simple_noise_scale, gradient_norm_sq,
                                   trace_covariance)

// An evaluation inside an arm: the samples it had trained from the point.
struct ArmEvaluation {
  std::int64_t samples = 0;
  double loss = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ArmEvaluation, samples, loss)

// One short arm from a branch point: `samples` training samples at `batch`
// from the point's weights, optimizer state and data order.
struct BranchArm {
  std::int64_t batch_size = 0;
  double learning_rate = 0;
  double lr_factor = 1;                 // against the scaling rule's rate (the --lr-grid)
  ArmStatus status = ArmStatus::completed;
  std::string message;
  std::int64_t steps = 0;
  std::int64_t samples = 0;
  double train_seconds = 0;
  std::optional<double> mean_step_seconds;    // the step clock (statistics.hpp)
  std::optional<double> median_step_seconds;
  std::optional<double> end_loss;        // on the evaluation subset, at the end
  // Evaluations over the arm's second half (the last is end_loss): the
  // ratio pools them, since one evaluation of a model trained with SGD is
  // as noisy as the differences between sizes.
  std::vector<ArmEvaluation> evaluations;
  // The evaluation at the weights averaged over the arm's second half
  // (Polyak-Ruppert): one SGD iterate scatters about its mean by as much as
  // the sizes differ; the average does not. None where the trainer keeps no
  // average (a model with batch-norm statistics): evaluations are pooled then.
  std::optional<double> averaged_loss;
  // Where the branch scaled SGD's momentum buffer (or Adam's first moment)
  // by the trunk's rate over the arm's (so the first step matches the
  // trunk's): the optimizer's momentum mu (Adam's beta1) and that factor c. The buffer then refills at rate 1 - mu,
  // and step j moves (1 - (1 - c) mu^j) of a steady step: an arm of a few
  // steps at a rate 8x the trunk's makes half the progress its steps would
  // in a run at that size. The analysis counts the arm's samples less that
  // lag (momentum_lag_steps). None where nothing was scaled.
  std::optional<double> momentum;
  std::optional<double> momentum_rescale;
  // Where the branch re-levelled Adam's (or AdamW's) second-moment estimate
  // from the trunk's batch to the arm's (plan::Trainer::
  // relevel_second_moment): the factor applied, averaged over the
  // parameters' entries (1: no gradient noise; b0 / B: noise only). None
  // at the base batch, for other optimizers and in reports before it.
  std::optional<double> second_moment_rescale;
  // The samples the base batch took along the trunk from the branch point to
  // the same loss; none when the trunk never got there (the arm did better
  // than the trunk's covered span, or it diverged).
  std::optional<double> base_equivalent_samples;
  // samples / base_equivalent_samples: the samples this size needs per
  // sample at the base batch. 1: perfect scaling; (Bc + B) / (Bc + b0) in
  // the McCandlish model.
  std::optional<double> samples_ratio;
  bool best_of_grid = true;              // the lowest end loss among this size's learning rates
  // The base batch's arm at the rule's rate is the trunk itself from the
  // point on (same state, data order and rate): its steps, evaluations and
  // average are read off the trunk, and it costs nothing more.
  bool from_trunk = false;
};
// A key absent from the JSON keeps its default here: reports written before
// averaged_loss, momentum, momentum_rescale, second_moment_rescale and
// from_trunk were added read as null, or false (report_reader.cpp also fills
// them in before the schema check).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BranchArm, batch_size, learning_rate, lr_factor, status, message, steps, samples,
                                   train_seconds, mean_step_seconds, median_step_seconds, end_loss, evaluations, averaged_loss,
                                   momentum, momentum_rescale, second_moment_rescale, base_equivalent_samples,
                                   samples_ratio, best_of_grid,
                                   from_trunk)

// The step after which an arm of `steps` steps averages its weights (its
// averaged_loss spans this step to its last).
inline std::int64_t arm_average_start(std::int64_t steps) { return steps / 2 > 1 ? steps / 2 : 1; }

// A point kept on the trunk and the arms branched from it.
struct BranchPoint {
  std::int64_t trunk_step = 0;
  std::int64_t trunk_samples = 0;
  double loss = 0;                       // the evaluation subset's loss at the point
  // The trunk's fitted curve at the point (its loss where no fit): B_crit is
  // fitted against this, since one evaluation scatters by more than the
  // points' losses differ late in a run.
  std::optional<double> curve_loss;
  std::int64_t span_samples = 0;         // each arm's samples (at least min_steps steps)
  std::vector<BranchArm> arms;
  // The local critical batch from the arms' samples ratios: r = (Bc + B) / (Bc + b0)
  // by least squares; low/high: the smallest and largest leave-one-size-out fit.
  std::optional<double> critical_batch;
  std::optional<double> critical_low;
  std::optional<double> critical_high;
  int sizes_fitted = 0;
  // Every size scaled perfectly (ratio near 1): B_crit is above the largest
  // size branched, which is then the lower bound given in critical_batch.
  bool lower_bound = false;
  std::optional<double> simple_noise_scale;  // the trunk's, nearest the point
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BranchPoint, trunk_step, trunk_samples, loss, curve_loss, span_samples, arms,
                                   critical_batch, critical_low, critical_high, sizes_fitted, lower_bound,
                                   simple_noise_scale)

// B_crit(L) = coefficient * L^exponent, a line in log-log (Kaplan et al. 2020:
// a power law in the loss), over the branch points with a measured B_crit.
struct CriticalBatchFit {
  double coefficient = 0;
  double exponent = 0;
  int points = 0;
  double log_residual_sd = 0;  // residual standard deviation of ln B_crit; 0 with two points
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CriticalBatchFit, coefficient, exponent, points, log_residual_sd)

// The trunk's loss against its samples, L(s) = floor + scale * s^-decay,
// fitted to its later half, to reach past the trunk to the run's end.
struct LossCurveFit {
  double floor = 0;
  double scale = 0;
  double decay = 0;
  int points = 0;
  double rms_error = 0;
  // Past these samples (the trunk's end) the curve falls at half its decay
  // (L - floor halves its log-slope, continuous there): a power law fitted
  // to a fifth of a run and carried to its end kept falling where full runs
  // levelled off. None: the fit as it is.
  std::optional<double> damped_from;
};
void to_json(nlohmann::json& j, const LossCurveFit& f);
void from_json(const nlohmann::json& j, LossCurveFit& f);

// The fit's loss at `samples`, and the samples at which it reaches `loss`
// (none at or below its floor, or where it does not fall).
double loss_curve_at(const LossCurveFit& f, double samples);
std::optional<double> loss_curve_samples_to(const LossCurveFit& f, double loss);

// The whole run at one batch size.
struct RunPrediction {
  std::int64_t batch_size = 0;
  double learning_rate = 0;
  double steps = 0;                      // S_run(B): sum over phases of S_min (1 + Bc / B)
  double samples = 0;
  double step_s = 0;                     // t(B)
  double seconds = 0;                    // T(B) = S_run(B) t(B)
  double seconds_low = 0;                // the B_crit band's and the step times' optimistic end
  double seconds_high = 0;
  bool step_time_measured = false;       // t(B) measured at this size (else interpolated)
  double lr_factor = 1;                  // learning_rate over the scaling rule's
  std::optional<double> rate_gain;       // a measured rate's samples over the rule's (steps scaled by it)
};
void to_json(nlohmann::json& j, const RunPrediction& p);
void from_json(const nlohmann::json& j, RunPrediction& p);

// Start at stages[0].batch_size; switch to each later stage's size when the
// loss falls to its from_loss.
struct ScheduleStage {
  std::int64_t batch_size = 0;
  std::optional<double> from_loss;       // none for the first stage
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ScheduleStage, batch_size, from_loss)

struct BatchSchedule {
  std::vector<ScheduleStage> stages;
  double predicted_seconds = 0;
  double saving_share = 0;               // 1 - schedule / best fixed size
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BatchSchedule, stages, predicted_seconds, saving_share)

struct WholeRun {
  PlannedRun run;
  std::int64_t base_batch = 0;
  double base_learning_rate = 0;
  LrScaling lr_scaling = LrScaling::none;
  int lr_grid = 0;                       // K: also 2^-K .. 2^K times the rule's rate
  std::int64_t eval_samples = 0;         // the fixed evaluation subset
  std::int64_t trunk_samples = 0;        // how far the trunk trained
  std::int64_t trunk_warmup_steps = 0;
  std::vector<TrunkPoint> trunk;
  std::vector<TrunkNoisePoint> trunk_noise;
  std::vector<BranchPoint> branch_points;
  // Step time per size (the step clock): the interleaved timing pass's
  // ratios levelled to the trunk's mean step, the arms' means, the throughput
  // scan's, or another
  // machine's report (--step-times); where they came from, in words.
  std::vector<std::pair<std::int64_t, double>> step_seconds;
  std::string step_times_source;
  // The tune's own cost: samples trained (trunk, arms and the timing pass)
  // and training time.
  std::int64_t tune_samples = 0;
  double tune_seconds = 0;
  // The arms' reach: the --tune-share the tune ran at, the next candidate
  // size above the largest arm that the budget left out (none: every size
  // ran, or none larger was a candidate), and the --tune-share whose budget
  // runs arms at it (none: not even the whole run would).
  std::optional<double> tune_share;
  std::optional<std::int64_t> next_arm_size;
  std::optional<double> tune_share_for_next_arm;
  // Of tune_samples, the interleaved timing pass's (steps at learning rate 0).
  std::int64_t timing_samples = 0;
  // Other processes' CPU use while the tune ran, in cores (Linux /proc/stat
  // less this process's own); none where it could not be read.
  std::optional<double> other_cpu_cores;
  // Sizes whose steps (the trunk's at the base batch, the arms' elsewhere;
  // 5 or more) had a heavy tail: the mean step kHeavyTailRatio or more
  // times the median (statistics.hpp), with that ratio.
  std::vector<std::pair<std::int64_t, double>> heavy_step_tails;

  // The analysis (reports/run_analysis/).
  std::optional<double> target_loss;     // the run's final target
  // One standard error of target_loss where it is the base batch's loss
  // carried past the trunk to the run's end (jackknife); none otherwise.
  std::optional<double> target_loss_error;
  TargetOrigin target_origin = TargetOrigin::none;
  std::string target_source;
  std::optional<double> base_samples_to_target;  // the base batch's samples to the target, on the trunk or its fit
  std::optional<LossCurveFit> loss_curve;      // the trunk's evaluations, fitted (inside the trunk)
  // Past the trunk's end: continuous with the curve there, the decay of the
  // trunk's later half, and a floor only where that half shows one.
  std::optional<LossCurveFit> loss_extension;
  std::optional<CriticalBatchFit> critical_fit;
  std::optional<double> critical_batch_at_target;   // B_crit(L) at the run's target
  // The arms' noise carried through the analysis: each of noise_draws draws
  // moves every arm's losses by arm_loss_noise (the scatter of the trunk's
  // later evaluations about their curve) and analyses again. The 16th and
  // 84th percentiles of B_crit at the target, and the share of draws whose
  // fastest size is best_batch; the predictions' intervals take the draws'
  // percentiles in too.
  std::optional<double> arm_loss_noise;
  int noise_draws = 0;
  std::optional<double> critical_batch_at_target_low;
  std::optional<double> critical_batch_at_target_high;
  std::optional<double> best_batch_agreement;
  // Set where the measured B_crit at the target fell outside its own draws'
  // 16th-84th percentile band: the estimate there was one narrow-banded point
  // pulling a nonlinear fit away from what its noise allows. The model is
  // then re-centred on the draws' median (every loss, by the same factor:
  // critical_batch_at_target over this), the predictions with it.
  std::optional<double> critical_batch_unrecentred;
  std::optional<double> early_critical_batch;       // the first branch point's: what a from-init sweep sees
  std::optional<double> noise_to_critical_ratio;    // median of B_simple / B_crit at the branch points
  std::vector<RunPrediction> predictions;
  std::optional<std::int64_t> best_batch;           // the smallest size predicted within 5% of the fastest
  std::optional<std::int64_t> early_best_batch;     // the same with B_crit held at the early estimate
  std::optional<BatchSchedule> schedule;
  std::vector<std::string> notes;
};
void to_json(nlohmann::json& j, const WholeRun& w);
void from_json(const nlohmann::json& j, WholeRun& w);

void render_whole_run_text(std::ostream& out, const WholeRun& w);

}  // namespace batchtune
