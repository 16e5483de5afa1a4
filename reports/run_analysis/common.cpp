// Helpers every stage uses: the arms' reach, the ranking of predictions,
// the trunk's loss at any samples, number formatting.
#include "reports/run_analysis/stages.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "reports/util/fit.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune::analysis {

// The largest size an arm measured a ratio at.
std::int64_t largest_arm(const WholeRun& w) {
  std::int64_t top = w.base_batch;
  for (const auto& p : w.branch_points) {
    for (const auto& a : p.arms) {
      if (a.samples_ratio) top = std::max(top, a.batch_size);
    }
  }
  return top;
}

// The answer is bounded by the arms' reach: the budget left larger sizes
// out, and B_crit at the target is at the largest arm or past it (a branch
// point's lower bound, or a value within 10% of the largest arm).
bool bounded_by_reach(const WholeRun& w) {
  if (!w.next_arm_size || !w.critical_batch_at_target) return false;
  bool bound = false;
  for (const auto& p : w.branch_points) bound = bound || p.lower_bound;
  return bound || *w.critical_batch_at_target >= 0.9 * double(largest_arm(w));
}

// A size's predicted time at the rule's rate. The sizes are ranked by it:
// every size's arms ran at the rule's rate, and only the finalists' also at
// others, so a measured rate's gain would favour a finalist over a size
// never given the chance (measured: gpt's finalists, chosen on this CPU's
// t(B), gained 2x their rate and beat 256 under a GPU-like t(B), where full
// runs had 256 best). The pick's own time is at its measured rate.
double rule_rate_seconds(const RunPrediction& p) { return p.seconds / p.rate_gain.value_or(1.0); }

// The prediction with the least time at the rule's rate (the first of equals).
std::vector<RunPrediction>::const_iterator fastest_prediction(const std::vector<RunPrediction>& predictions) {
  return std::min_element(predictions.begin(), predictions.end(), [](const RunPrediction& a, const RunPrediction& b) {
    return rule_rate_seconds(a) < rule_rate_seconds(b);
  });
}

// The largest size predicted within kNearTie of the fastest prediction.
// B_crit at the target is more often under- than over-estimated: it grows
// as the loss falls, the branch points lie above the target's loss, and a
// growth the points do not pin down is not carried (chosen on the
// development workloads of bench/whole_run_truth.py: taking the smallest
// in a tie picked 128 where full runs said 256, 1.26-1.31x the best, on
// both; the held-out ones are in bench/README.md).
std::vector<RunPrediction>::const_iterator tie_pick(const std::vector<RunPrediction>& predictions) {
  const auto fastest = fastest_prediction(predictions);
  auto pick = fastest;
  for (auto it = predictions.begin(); it != predictions.end(); ++it) {
    if (rule_rate_seconds(*it) <= (1.0 + kNearTie) * rule_rate_seconds(*fastest) && it->batch_size > pick->batch_size) {
      pick = it;
    }
  }
  return pick;
}

// The trunk's loss at `samples`: the smoothed curve inside it, the fitted
// curve past its end.
double loss_at(const std::vector<std::pair<double, double>>& curve, const std::optional<LossCurveFit>& fit,
               double samples) {
  if (!curve.empty() && samples <= curve.back().first) {
    if (samples <= curve.front().first) return curve.front().second;
    for (std::size_t i = 1; i < curve.size(); ++i) {
      if (curve[i].first >= samples) {
        const double t = (samples - curve[i - 1].first) / std::max(curve[i].first - curve[i - 1].first, 1e-12);
        return lerp(curve[i - 1].second, curve[i].second, t);
      }
    }
  }
  if (fit) return loss_curve_at(*fit, samples);
  return curve.empty() ? std::numeric_limits<double>::quiet_NaN() : curve.back().second;
}

// The loss a branch point stands at: the trunk's fitted curve there (one
// evaluation scatters by more than late points' losses differ).
double point_loss(const BranchPoint& p) { return p.curve_loss.value_or(p.loss); }

}  // namespace batchtune::analysis
