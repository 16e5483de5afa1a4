// The whole-run analysis's stages, in order (analyse.cpp runs them), with
// what each reads from the measurements in a WholeRun and what it writes:
//   1. trunk_curve.cpp   the trunk's loss curve and its extension past its
//                        end -> loss_curve, loss_extension, each point's
//                        curve_loss;
//   2. arm_ratios.cpp    each arm's samples ratio against the trunk;
//      local_fit.cpp     each point's local B_crit and band;
//      rate.cpp          a size's rate measured against the rule's;
//   3. target.cpp        the target loss, its error, the base batch's
//                        samples to it;
//   4. critical_fit.cpp  B_crit against the loss, carried to the target;
//   5. run_time.cpp      each size's predicted steps and time, the pick;
//   6. schedule.cpp      a batch-size schedule where B_crit grows;
//   7. noise_draws.cpp   the analysis repeated under the arms' noise: bands,
//                        agreement, the draws' majority;
//   wording.cpp          the recommendation and its reasons.
// Internal to reports/run_analysis/; the public entry points are in
// predict_run.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reports/util/units.hpp"  // format_number, for the stages' words
#include "reports/run_analysis/predict_run.hpp"
#include "reports/model/whole_run.hpp"

namespace batchtune::analysis {

// Phases the run is cut into, equal in base-batch samples.
constexpr int kPhases = 64;
// A ratio this close to 1 is perfect scaling within the measurement.
constexpr double kPerfectScaling = 0.05;
// A schedule is proposed only when it saves at least this share.
constexpr double kScheduleSaving = 0.05;
// Predicted times this close to the fastest are a tie: the largest size wins.
constexpr double kNearTie = 0.05;
// The fit's best size gives way to the noise draws' only where it is best in
// under this share of them (and another size in a majority).
constexpr double kBagOwnShare = 0.25;
// Another rate than the rule's is used only where its arm's loss lies this
// many times the trunk's scatter below the rule arm's; its measured gain on
// the samples is carried over the run, but never below this floor.
constexpr double kRateNoiseSigmas = 2.0;
constexpr double kRateGainFloor = 0.5;
// B_crit's growth with the loss is carried past the branch points only when
// its exponent is this many standard errors below zero.
constexpr double kGrowthSigmas = 2.0;
// Draws of the arms' noise.
constexpr int kNoiseDraws = 64;

using Curve = std::vector<std::pair<double, double>>;  // (samples, loss), ascending

// --- common.cpp -----------------------------------------------------------
std::int64_t largest_arm(const WholeRun& w);
bool bounded_by_reach(const WholeRun& w);
double rule_rate_seconds(const RunPrediction& p);
std::vector<RunPrediction>::const_iterator fastest_prediction(const std::vector<RunPrediction>& predictions);
std::vector<RunPrediction>::const_iterator tie_pick(const std::vector<RunPrediction>& predictions);
double loss_at(const Curve& curve, const std::optional<LossCurveFit>& fit, double samples);
double point_loss(const BranchPoint& p);

// --- 1. trunk_curve.cpp ---------------------------------------------------
struct TrunkCurve {
  Curve curve;          // smoothed, the fit from half way to the first point, the extension past the joint
  double joint = 0;     // where the curve past the trunk starts
  double at_joint = 0;  // and its loss there
};
// Writes loss_curve, loss_extension and every branch point's curve_loss.
TrunkCurve fit_trunk_curve(WholeRun& w);

// --- 2. arm_ratios.cpp, local_fit.cpp, rate.cpp ---------------------------
std::optional<double> trunk_equivalent(const Curve& curve, const std::optional<LossCurveFit>& fit, double from,
                                       double loss);
double effective_samples(const BranchArm& a, std::int64_t at_step, bool averaged);
// Writes every completed arm's base_equivalent_samples, samples_ratio and best_of_grid.
void fill_arm_ratios(WholeRun& w, const Curve& curve);
// The arm whose ratio stands for size b at point p (the rule's rate's, else
// the grid's best where it failed); none without one.
const BranchArm* standing_arm(const BranchPoint& p, std::int64_t b);
// Writes the point's critical_batch, band, lower_bound and sizes_fitted.
void fit_local(BranchPoint& p, double base_batch);
std::optional<std::int64_t> first_unstable_size(const WholeRun& w);

// A size's rate measured against the rule's: at the latest branch point
// where the size has its rule-rate arm and arms at other rates, all read
// against the trunk, the one needing the fewest samples. It wins beyond the
// noise where its loss (averaged, else at the end) lies more than
// kRateNoiseSigmas times the trunk's scatter about its curve below the rule
// arm's. Its gain, its ratio over the rule's (at least kRateGainFloor), is
// carried over the whole run: the prediction's steps at that size scale by
// it (an extrapolation of one point's measurement, and said so).
struct MeasuredRate {
  double factor = 1;
  double gain = 1;
  double loss = 0, rule_loss = 0;  // the winning arm's and the rule's, as compared
  double noise = 0;                // the trunk's scatter
  double point_loss = 0;           // where it was measured
  bool beyond_noise = false;
  bool floored = false;
};
std::optional<MeasuredRate> measured_rate(const WholeRun& w, std::int64_t b);

// --- 3. target.cpp --------------------------------------------------------
// Writes target_loss, target_source, target_loss_error, base_samples_to_target (and notes).
void find_target(WholeRun& w, const TrunkCurve& tc);

// --- 4. critical_fit.cpp --------------------------------------------------
// B_crit at loss L: the power law, or the one measured value without a fit.
struct CriticalModel {
  std::optional<CriticalBatchFit> fit;
  double constant = 0;    // with one measured point
  double log_offset = 0;  // the re-centring on the noise draws' median (analyse_whole_run)
  // Lower bounds (loss, B): a branch point whose arms showed no knee up to B.
  // B_crit grows as the loss falls, so it is at least B at that loss and
  // every lower one.
  std::vector<std::pair<double, double>> floors;
  double at(double loss, double log_shift = 0) const {
    const double b = fit ? fit->coefficient * std::pow(std::max(loss, 1e-12), fit->exponent) : constant;
    double v = b * std::exp(log_offset + log_shift);
    for (const auto& [at_loss, bound] : floors) {
      if (loss <= at_loss) v = std::max(v, bound);
    }
    return v;
  }
};
// The model and its band: the half width in ln B_crit at loss L (the fit's
// standard error there, or the points' spread without a fit).
struct CriticalBand {
  CriticalModel model;
  double log_sd = 0;
  double x_mean = 0, sxx = 0;  // the points' weighted mean ln loss and spread (with a fit)
  std::size_t points = 0;
  double band(double loss) const {
    if (!model.fit || sxx <= 0) return log_sd;
    const double d = std::log(std::max(loss, 1e-12)) - x_mean;
    return log_sd * std::sqrt(1.0 + 1.0 / double(points) + d * d / sxx);
  }
};
// Writes critical_fit, early_critical_batch, critical_batch_at_target,
// noise_to_critical_ratio (and notes); none where no point measured B_crit.
// `recentre` multiplies B_crit at every loss; `fit_at_target`, when given,
// gets B_crit at the target from the fit alone, before any lower bound.
std::optional<CriticalBand> fit_critical_against_loss(WholeRun& w, double recentre,
                                                      std::optional<double>* fit_at_target);

// --- 5. run_time.cpp, 6. schedule.cpp -------------------------------------
struct Phase {
  double base_steps = 0;  // steps at the base batch
  double loss = 0;        // at the phase's middle
  double start_loss = 0;
};
// Writes predictions, best_batch, early_best_batch and schedule (and notes).
void predict_run_times(WholeRun& w, const TrunkCurve& tc, const CriticalBand& critical,
                       const std::vector<std::int64_t>& candidate_sizes);
// Each phase's fastest size, never decreasing, where that saves at least
// kScheduleSaving against `fastest_seconds` (the fastest fixed size's run).
// `phase_seconds(phase, B)`: the phase's time at B.
std::optional<BatchSchedule> propose_schedule(const std::vector<Phase>& phases, const std::vector<std::int64_t>& sizes,
                                              const std::function<double(const Phase&, std::int64_t)>& phase_seconds,
                                              double fastest_seconds);

// --- the analysis and 7. noise_draws.cpp ----------------------------------
// Every analysed field of `w` back to its unanalysed state (the
// measurements untouched), the notes emptied.
void clear_analysis(WholeRun& w);
// The analysis of the measurements as they are: stages 1 to 6 from a
// cleared analysis. `recentre` multiplies B_crit at every loss.
void analyse_measured(WholeRun& w, const std::vector<std::int64_t>& candidate_sizes, double recentre = 1.0,
                      std::optional<double>* fit_at_target = nullptr);

struct NoiseDraws {
  int draws = 0;
  std::vector<std::optional<std::int64_t>> best;        // each draw's fastest size
  std::vector<double> critical;                         // B_crit at the target, per draw
  std::map<std::int64_t, std::vector<double>> seconds;  // each size's predicted time, per draw
};
NoiseDraws draw_arm_noise(const WholeRun& w, const std::vector<std::int64_t>& candidate_sizes);
void apply_draws(WholeRun& w, const NoiseDraws& d);
void bag_best(WholeRun& w, const NoiseDraws& d);
// The analysis with the arms' noise drawn through it; returns the factor
// B_crit was re-centred by (1: not).
double analyse_with_draws(WholeRun& w, const std::vector<std::int64_t>& candidate_sizes);

}  // namespace batchtune::analysis
