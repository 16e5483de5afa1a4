// The whole-run analysis: the stages in order, over the measurements
// (stages.hpp says what each reads and writes).

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
namespace analysis {

void clear_analysis(WholeRun& w) {
  w.notes.clear();
  w.predictions.clear();
  w.best_batch.reset();
  w.early_best_batch.reset();
  w.schedule.reset();
  w.critical_fit.reset();
  w.critical_batch_at_target.reset();
  w.early_critical_batch.reset();
  w.noise_to_critical_ratio.reset();
  w.target_loss.reset();
  w.target_origin = TargetOrigin::none;
  w.target_source.clear();
  w.base_samples_to_target.reset();
  w.loss_curve.reset();
  w.loss_extension.reset();
  w.target_loss_error.reset();
  w.arm_loss_noise.reset();
  w.noise_draws = 0;
  w.best_batch_agreement.reset();
  w.critical_batch_at_target_low.reset();
  w.critical_batch_at_target_high.reset();
}

void analyse_measured(WholeRun& w, const std::vector<std::int64_t>& candidate_sizes, double recentre,
                      std::optional<double>* fit_at_target) {
  clear_analysis(w);
  if (w.next_arm_size) {
    w.notes.push_back("the tune's budget (--tune-share " + format_number(w.tune_share.value_or(0), "%g") +
                      ") ran no arm at batch " + std::to_string(*w.next_arm_size) + " or above" +
                      (w.tune_share_for_next_arm
                           ? "; --tune-share " + format_number(*w.tune_share_for_next_arm, "%.2g") + " would run it"
                           : std::string("; no share of the run would")));
  }
  const TrunkCurve tc = fit_trunk_curve(w);                 // 1.
  fill_arm_ratios(w, tc.curve);                              // 2.
  for (auto& p : w.branch_points) fit_local(p, double(w.base_batch));
  find_target(w, tc);                                        // 3.
  const auto critical = fit_critical_against_loss(w, recentre, fit_at_target);  // 4.
  if (!critical || !w.target_loss || !w.base_samples_to_target) return;
  predict_run_times(w, tc, *critical, candidate_sizes);      // 5. and 6.
}
}  // namespace analysis

using namespace analysis;

void analyse_whole_run(WholeRun& w, const std::vector<std::int64_t>& candidate_sizes) {
  const double recentre = analyse_with_draws(w, candidate_sizes);
  if (w.predictions.empty()) return;
  // The default target is the base batch's loss carried past the trunk: its
  // own error (the jackknife's) moves every size's time, the base batch's
  // most (at the target it takes the whole run by construction). The
  // intervals take the predictions at the target +- that error in, so an
  // extrapolation the trunk cannot pin down reads as a wide interval, not
  // a point.
  if (w.target_loss && w.target_loss_error && *w.target_loss_error > 0 && !w.run.target_loss &&
      !w.run.target_accuracy) {
    for (const double sign : {-1.0, 1.0}) {
      WholeRun moved = w;
      const double target = *w.target_loss + sign * *w.target_loss_error;
      if (!(target > 0)) continue;
      moved.run.target_loss = target;
      analyse_measured(moved, candidate_sizes, recentre);
      for (auto& p : w.predictions) {
        const auto q = std::find_if(moved.predictions.begin(), moved.predictions.end(),
                                    [&](const RunPrediction& m) { return m.batch_size == p.batch_size; });
        if (q == moved.predictions.end() || !std::isfinite(q->seconds)) continue;
        p.seconds_low = std::min(p.seconds_low, q->seconds);
        p.seconds_high = std::max(p.seconds_high, q->seconds);
      }
    }
  }
  if (w.noise_draws == 0) {
    w.notes.push_back("the predictions carry no noise band (no scatter of the trunk about its curve to draw the "
                      "arms' noise from): their intervals hold only B_crit's spread");
  }
}

}  // namespace batchtune
