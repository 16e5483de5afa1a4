// From the branched measurements of a whole-run tune (reports/model/whole_run.hpp)
// to the whole run's prediction and recommendation: each arm's samples
// against the trunk's (how many base-batch samples reach the same loss), the
// local critical batch at each branch point, B_crit fitted against the loss
// and carried to the run's target, the run's steps at every size summed over
// phases, S_run(B) = sum_k S_min,k (1 + Bc(L_k) / B), its time with the
// step times, a batch-size schedule where B_crit grows, and the reasons.
// Torch-free, like reports/analysis/recommend.*: `batchtune report --step-times`
// recomputes it for another machine's step times on any machine.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "reports/model/recommendation.hpp"
#include "reports/model/whole_run.hpp"

namespace batchtune {

// The trunk's loss made monotone: a running minimum over a 3-point moving
// median of its evaluations (one noisy low evaluation then moves nothing).
std::vector<std::pair<double, double>> smoothed_trunk_curve(const std::vector<TrunkPoint>& trunk);

// Samples after `from_samples` at which the smoothed trunk first reaches
// `loss` (linear between evaluations); none when it never does.
std::optional<double> trunk_samples_to_loss(const std::vector<std::pair<double, double>>& curve, double from_samples,
                                            double loss);

// Least squares of r_B (B_crit + b0) = B_crit + B over (B, r_B): B_crit in
// closed form. None with no size whose ratio differs from 1.
// The steps' worth of progress an arm's refilling momentum buffer had not
// given back, averaged over its steps from `from_step` to `to_step`
// (inclusive): step j moves (1 - (1 - c) mu^j) of a steady step, so by step k
// the arm lags (1 - c) mu (1 - mu^k) / (1 - mu) steps. 0 where the arm's
// buffer was not scaled.
double momentum_lag_steps(const BranchArm& arm, std::int64_t from_step, std::int64_t to_step);

std::optional<double> fit_critical_from_ratios(const std::vector<std::pair<double, double>>& batch_ratio,
                                               double base_batch);

// L(s) = floor + scale s^-decay over (samples, loss), the decay on a grid
// and floor and scale by least squares; none with fewer than 3 points or
// no decreasing fit.
std::optional<LossCurveFit> fit_loss_curve(const std::vector<std::pair<double, double>>& samples_loss);

// The trunk's curve from `from_samples` on and past its end: a power law
// with the decay of the trunk's evaluations from there, continuous with
// `anchor_loss` (the curve's value at from_samples); a floor only where they
// level off enough to pay for it (BIC). None when they do not fall.
std::optional<LossCurveFit> fit_loss_extension(const std::vector<TrunkPoint>& trunk, double from_samples,
                                               double anchor_loss);

// The jackknife standard error of that curve's loss at `samples` (leaving
// out one of the points it is fitted to at a time); none with fewer than
// five points, or when leaving one out leaves a curve that does not fall.
// Refits with no floor are damped past `damped_from` as the curve is.
std::optional<double> extension_loss_error(const std::vector<TrunkPoint>& trunk, double from_samples,
                                           double anchor_loss, double samples,
                                           std::optional<double> damped_from = std::nullopt);

// Fills in everything below "the analysis" in `w` from its measurements
// (trunk, arms, step times), for the candidate sizes (ascending, the probe's
// feasible range): arms' ratios and the grid's best, local fits, the
// target, the B_crit fit, predictions, the best size, the schedule and notes.
void analyse_whole_run(WholeRun& w, const std::vector<std::int64_t>& candidate_sizes);

// The recommendation for the planned run, as `show` and `check` read it:
// the best predicted size, its learning rate, the predicted time, the
// largest candidate's time beside it, confidence and reasons. Status none
// (no batch size) when there is no B_crit or no reachable target.
// `max_fit_capped`: the probe stopped at a cap (the tune's budget, the run),
// so max_fit_batch is the largest size verified, not the largest that fits.
Recommendation recommend_whole_run(const WholeRun& w, std::int64_t max_fit_batch, bool max_fit_capped = false);

}  // namespace batchtune
