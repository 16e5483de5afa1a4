// Stage 2: each arm against the trunk. How many base-batch samples the trunk
// needed to reach an arm's loss gives the arm's samples ratio, against the
// base batch's own arm; the rule-rate arm's ratio stands for its size.

#include "reports/run_analysis/stages.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "reports/util/fit.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune {

double momentum_lag_steps(const BranchArm& arm, std::int64_t from_step, std::int64_t to_step) {
  if (!arm.momentum || !arm.momentum_rescale) return 0.0;
  const double mu = *arm.momentum, c = *arm.momentum_rescale;
  if (!(mu > 0 && mu < 1) || !std::isfinite(c) || to_step < 1) return 0.0;
  from_step = std::clamp<std::int64_t>(from_step, 1, to_step);
  double sum = 0;
  for (std::int64_t k = from_step; k <= to_step; ++k) sum += (1.0 - std::pow(mu, double(k)));
  return (1.0 - c) * mu / (1.0 - mu) * sum / double(to_step - from_step + 1);
}

namespace analysis {


// Base-batch samples from `from` along the trunk to `loss`: the smoothed
// trunk, and its fitted curve past its end.
std::optional<double> trunk_equivalent(const std::vector<std::pair<double, double>>& curve,
                                       const std::optional<LossCurveFit>& fit, double from, double loss) {
  if (const auto at = trunk_samples_to_loss(curve, from, loss)) return *at - from;
  if (!fit) return std::nullopt;
  const auto at = loss_curve_samples_to(*fit, loss);
  if (!at) return std::nullopt;
  if (!curve.empty() && *at < curve.back().first) return std::nullopt;  // the fit disagrees with the trunk
  return *at - from;
}

// Each size's ratio comes from its arm at the scaling rule's own rate where
// that arm completed: under the linear rule its rate over the batch is the
// trunk's, so the arm carries on at the trunk's noise level and its progress
// is the batch size's alone. A rate off the rule changes that level, and in
// a short arm the loss then jumps by an amount that says nothing about the
// batch size (the short-horizon bias of Wu et al. 2018): the grid's arms say
// which rate is best (best_of_grid), and stand in for the rule's only where
// it failed.
//
// Where the arms' weights were averaged over their second halves, each
// size's averaged loss is set against the base batch's: the average lags its
// iterate and lies below the trunk's raw curve by the iterates' scatter, and
// the base arm measures that offset (its averaged loss against the curve at
// its end); every size's averaged loss, shifted by it, is carried to the
// trunk's samples. One evaluation then carries a size's progress, not its
// iterate's noise.
// An arm's samples less its momentum lag (momentum_lag_steps), at its end or
// over the span its averaged weights cover.
double effective_samples(const BranchArm& a, std::int64_t at_step, bool averaged) {
  const std::int64_t from = averaged ? arm_average_start(a.steps) : at_step;
  return double(at_step * a.batch_size) - double(a.batch_size) * momentum_lag_steps(a, from, at_step);
}

namespace {

// Each arm's ratio, averaged: `others` (arms off the rule's rate) are read
// the same way as the sizes' own arms.
bool fill_averaged_ratios(WholeRun& w, BranchPoint& p, const std::vector<BranchArm*>& arms,
                          const std::map<std::int64_t, BranchArm*>& ratio_arm,
                          const std::vector<std::pair<double, double>>& curve) {
  const auto base = ratio_arm.find(w.base_batch);
  if (base == ratio_arm.end() || !base->second->averaged_loss) return false;
  const double s0 = double(p.trunk_samples);
  const double at_base_end = loss_at(curve, w.loss_extension, s0 + double(base->second->samples));
  if (!std::isfinite(at_base_end)) return false;
  const double offset = at_base_end - *base->second->averaged_loss;
  for (BranchArm* a : arms) {
    if (!a->averaged_loss) continue;
    const auto eq = trunk_equivalent(curve, w.loss_extension, s0, *a->averaged_loss + offset);
    if (!eq || *eq <= 0) continue;
    a->base_equivalent_samples = *eq;
    a->samples_ratio = effective_samples(*a, a->steps, true) / *eq;
  }
  return true;
}

// Pooled over the arm's evaluations (its end alone where it has none): sum
// of samples over sum of the trunk's samples to the same losses.
void fill_pooled_ratio(const WholeRun& w, const BranchPoint& p, BranchArm& a,
                       const std::vector<std::pair<double, double>>& curve) {
  std::vector<ArmEvaluation> evals = a.evaluations;
  if (evals.empty()) evals.push_back(ArmEvaluation{a.samples, *a.end_loss});
  double own = 0, base = 0, end_base = 0;
  int used = 0;
  for (const auto& e : evals) {
    const auto eq = trunk_equivalent(curve, w.loss_extension, double(p.trunk_samples), e.loss);
    if (!eq || *eq <= 0) continue;
    own += effective_samples(a, e.samples / std::max<std::int64_t>(1, a.batch_size), false);
    base += *eq;
    ++used;
    if (e.samples == a.samples) end_base = *eq;
  }
  // Half of them at least, the end among them.
  if (used * 2 < static_cast<int>(evals.size()) || end_base <= 0) return;
  a.base_equivalent_samples = end_base;
  a.samples_ratio = own / base;
}

}  // namespace

// Every completed arm gets a ratio; the one that stands for its size (B_crit,
// the predictions) is the rule's (standing_arm). Arms at other rates are read
// the same way: measured_rate compares them with the rule's at their size.
void fill_arm_ratios(WholeRun& w, const std::vector<std::pair<double, double>>& curve) {
  for (auto& p : w.branch_points) {
    std::map<std::int64_t, BranchArm*> best, ratio_arm;
    std::vector<BranchArm*> completed;
    for (auto& a : p.arms) {
      a.base_equivalent_samples.reset();
      a.samples_ratio.reset();
      a.best_of_grid = false;
      if (a.status != ArmStatus::completed || !a.end_loss || !std::isfinite(*a.end_loss)) continue;
      completed.push_back(&a);
      auto& b = best[a.batch_size];
      if (!b || *a.end_loss < *b->end_loss) b = &a;
      if (std::abs(a.lr_factor - 1.0) < 1e-9) ratio_arm[a.batch_size] = &a;
    }
    for (auto& [batch, a] : best) {
      a->best_of_grid = true;
      if (!ratio_arm.count(batch)) ratio_arm[batch] = a;
    }
    if (!fill_averaged_ratios(w, p, completed, ratio_arm, curve)) {
      for (BranchArm* a : completed) fill_pooled_ratio(w, p, *a, curve);
    }
    // Against the base batch's own arm where one ran (at the rule's rate it
    // repeats the trunk, and the ratio is 1): what is left is the size's.
    const auto base_arm = ratio_arm.find(w.base_batch);
    if (base_arm != ratio_arm.end() && base_arm->second->samples_ratio && *base_arm->second->samples_ratio > 0) {
      const double norm = *base_arm->second->samples_ratio;
      for (BranchArm* a : completed) {
        if (a->samples_ratio) a->samples_ratio = *a->samples_ratio / norm;
      }
    }
  }
}

// The arm whose ratio stands for size b at point p: the rule's rate's,
// else (where it failed) the grid's best with a ratio; none without one.
const BranchArm* standing_arm(const BranchPoint& p, std::int64_t b) {
  const BranchArm* best = nullptr;
  for (const auto& a : p.arms) {
    if (a.batch_size != b || !a.samples_ratio) continue;
    if (std::abs(a.lr_factor - 1.0) < 1e-9) return &a;
    if (a.best_of_grid) best = &a;
  }
  return best;
}

}  // namespace analysis
}  // namespace batchtune
