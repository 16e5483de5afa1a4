// The recommendation for the planned run, in the words `show` and `check`
// read: the best size, its rate, the predicted time, confidence and reasons.

#include "reports/run_analysis/stages.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "reports/util/fit.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"
#include "reports/model/machine_info.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

using namespace analysis;

namespace {

// Where the recommended size needs more samples than the planned run (any
// size above the base batch may: the target is the base batch's loss at the
// plan's end), the run is its steps, not the planned length.
std::string beyond_the_plan(const WholeRun& w, const RunPrediction& p) {
  const double planned = double(w.run.train_samples);
  if (!(planned > 0) || !(p.samples > 1.05 * planned)) return "";
  std::string how_long = format_number(p.samples / planned, "%.2f") + "x the planned run's samples";
  if (w.run.epochs && *w.run.epochs > 0) {
    how_long = format_number(*w.run.epochs * p.samples / planned, "%.3g") + " epochs, " + how_long;
  }
  return " (" + how_long + ": train for these steps, not the planned length)";
}

const RunPrediction* prediction_of(const WholeRun& w, std::int64_t b) {
  for (const auto& p : w.predictions) {
    if (p.batch_size == b) return &p;
  }
  return nullptr;
}

// Confidence from B_crit: how much of the target's is measured rather than
// carried, its noise band, the target's own error, the noise draws' verdict.
void rate_critical_confidence(Recommendation& r, const WholeRun& w, const RunPrediction* best) {
  int measured = 0;
  bool bound = false;
  double deepest = std::numeric_limits<double>::infinity();
  for (const auto& p : w.branch_points) {
    if (p.critical_batch) {
      ++measured;
      deepest = std::min(deepest, point_loss(p));
    }
    bound = bound || p.lower_bound;
  }
  r.confidence = Confidence::high;
  if (measured < 3) {
    r.confidence = Confidence::medium;
    r.confidence_notes.push_back("B_crit measured at " + std::to_string(measured) + " branch point(s), fewer than 3");
  }
  if (bound) {
    r.confidence = Confidence::low;
    r.confidence_notes.push_back("at a branch point no size's ratio showed the knee: its B_crit is only a lower bound");
  }
  if (!w.critical_fit && measured >= 2 && r.confidence == Confidence::high) {
    r.confidence = Confidence::medium;
    r.confidence_notes.push_back("B_crit did not grow measurably as the loss fell across the branch points: held at "
                                 "their geometric mean rather than carried to the target");
  }
  if (w.noise_to_critical_ratio && (*w.noise_to_critical_ratio > 4.0 || *w.noise_to_critical_ratio < 0.25)) {
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    r.confidence_notes.push_back("the trunk's simple noise scale is " + format_number(*w.noise_to_critical_ratio, "%.2g") +
                                 "x the branch-measured B_crit (McCandlish et al. find them within a small factor)");
  }
  if (w.target_loss && std::isfinite(deepest) && *w.target_loss < 0.7 * deepest) {
    r.confidence = Confidence::low;
    r.confidence_notes.push_back("the target loss " + format_number(*w.target_loss, "%.3g") +
                                 " is far below the deepest branch point's " + format_number(deepest, "%.3g") +
                                 (w.critical_fit ? std::string(": B_crit there is extrapolated")
                                                 : std::string(": B_crit there is the points' value, and may have "
                                                               "grown since")));
  }
  if (w.best_batch_agreement && *w.best_batch_agreement < 0.5) {
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    r.confidence_notes.push_back("with the arms' losses moved by their noise (+- " + format_number(w.arm_loss_noise.value_or(0), "%.2g") +
                                 "), batch " + std::to_string(best->batch_size) + " stays fastest in only " +
                                 format_number(100.0 * *w.best_batch_agreement, "%.0f") + "% of " +
                                 std::to_string(w.noise_draws) + " draws");
  }
  if (w.critical_batch_at_target_low && w.critical_batch_at_target_high && *w.critical_batch_at_target_low > 0 &&
      *w.critical_batch_at_target_high > 4.0 * *w.critical_batch_at_target_low) {
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    r.confidence_notes.push_back("B_crit at the target moves from " + format_number(*w.critical_batch_at_target_low, "%.0f") +
                                 " to " + format_number(*w.critical_batch_at_target_high, "%.0f") +
                                 " with the arms' noise (16th to 84th percentile): longer arms (--tune-share) "
                                 "measure it better");
  }
  if (w.critical_batch_at_target && w.critical_batch_at_target_high &&
      *w.critical_batch_at_target > *w.critical_batch_at_target_high * (1.0 + 1e-9)) {
    // Above its draws' band the estimate is left as measured (the draws sit
    // low when the knee lies past the largest arm), but never unsaid.
    r.confidence = Confidence::low;
    r.confidence_notes.push_back("B_crit at the target, " + format_number(*w.critical_batch_at_target, "%.0f") +
                                 ", lies above its own noise band (" +
                                 format_number(w.critical_batch_at_target_low.value_or(0), "%.0f") + " to " +
                                 format_number(*w.critical_batch_at_target_high, "%.0f") +
                                 "): the arms' noise alone would put it lower; it is kept as measured, since the "
                                 "draws fall low where the knee lies past the largest arm");
  }
  if (w.target_loss && w.target_loss_error && *w.target_loss_error > 0.05 * *w.target_loss) {
    // The default target is the base batch's loss carried past the trunk to
    // the run's end; B_crit, and so the best size, depend on where it lands.
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    r.confidence_notes.push_back("the target, the base batch's loss at the run's end, is carried past the trunk: " +
                                 format_number(*w.target_loss, "%.3g") + " +- " + format_number(*w.target_loss_error, "%.2g") +
                                 " (the larger of a jackknife over the trunk's later evaluations and the "
                                 "damping's distance to the undamped curve); a --target-loss, or more "
                                 "--trunk-share, makes it firmer");
  }
}

// The evidence under the times: step times measured at one size only, an
// answer bounded by the arms' reach, heavy tails, a loaded machine, a wide
// interval.
void rate_timing_evidence(Recommendation& r, const WholeRun& w, const RunPrediction* best) {
  {
    // Step times measured at one size only (a --step-times report that timed
    // one size): every other size's time is that one carried across.
    std::vector<std::int64_t> timed;
    for (const auto& p : w.predictions) {
      if (p.step_time_measured) timed.push_back(p.batch_size);
    }
    if (timed.size() <= 1 && w.predictions.size() > 1) {
      r.confidence = Confidence::low;
      r.reasons.push_back(
          "thin evidence: " +
          (timed.empty() ? std::string("no predicted size has a measured step time")
                         : "only batch " + std::to_string(timed.front()) + " has a measured step time") +
          " (" + w.step_times_source + "); the other sizes' times are " +
          (timed.empty() ? std::string("interpolated") : std::string("its step time carried to them")) +
          ", so the comparison between sizes rests on no measurement: time more sizes (`sweep "
          "--throughput-only` on the target machine)");
    }
  }
  if (bounded_by_reach(w)) {
    // B_crit sits at the largest arm: the knee may lie past what the arms
    // measured, and sizes above it are not predicted. Say what would reach it.
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    const std::int64_t top = largest_arm(w);
    r.reasons.push_back("bounded: B_crit at the target (" + format_number(*w.critical_batch_at_target, "%.0f") +
                        ") lies at or past " + std::to_string(top) + ", the largest size an arm ran: sizes above " +
                        std::to_string(top) + " are not predicted and the best size may be larger; " +
                        (w.tune_share_for_next_arm
                             ? "--tune-share " + format_number(*w.tune_share_for_next_arm, "%.2g") + " runs arms at " +
                                   std::to_string(*w.next_arm_size)
                             : std::string("no larger tune share runs a larger arm")));
  }
  if (!w.heavy_step_tails.empty()) {
    // The clock is the mean step: the stalls are in the predicted seconds,
    // as a run under the same conditions would pay them.
    std::string sizes;
    double worst = 0;
    for (const auto& [b, ratio] : w.heavy_step_tails) {
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(b);
      worst = std::max(worst, ratio);
    }
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    r.confidence_notes.push_back("timing unreliable: the step times have a heavy tail at batch " + sizes +
                                 " (the mean step up to " + format_number(worst, "%.1f") +
                                 "x the median: stalls); the predicted seconds include them, as a run under the "
                                 "same conditions would pay them; a thread pool on every core stalls whenever "
                                 "anything else runs: fewer --threads usually removes the tail");
  }
  if (w.other_cpu_cores && *w.other_cpu_cores >= kLoadedMachineCores) {
    // The interleaved timing pass keeps the sizes' comparison fair under a
    // steady load; the seconds are still those of a busy machine.
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    r.confidence_notes.push_back(
        "the machine was loaded: other processes used " + format_number(*w.other_cpu_cores, "%.1f") +
        " cores on average while the tune ran; " +
        (w.timing_samples > 0
             ? std::string("every size was timed in one interleaved pass, so load moved them alike, but the "
                           "predicted seconds are a busy machine's")
             : std::string("the interleaved timing pass did not fit the budget, so each size's time is from its "
                           "own arms, minutes apart, and load may have moved one size and not another")) +
        ": tune on a quiet machine (or with fewer --threads) for the run's own time");
  }
  if (best->seconds_high > 1.5 * best->seconds_low) {
    // Near-ties within the band are common; say so rather than overstate.
    r.confidence_notes.push_back("the predicted time's interval is " + format_seconds(best->seconds_low) + " to " +
                                 format_seconds(best->seconds_high));
  }
}

// The reasons for the pick: the run, the rate, near-ties and the noise
// draws, B_crit along the loss, the from-init estimate, the largest size,
// a schedule.
void pick_reasons(Recommendation& r, const WholeRun& w, const RunPrediction* best, const RunPrediction* largest) {
  r.reasons.push_back("for the planned run (" + w.run.source + ") to loss " + format_number(w.target_loss.value_or(0), "%.4g") +
                      " (" + w.target_source + "), batch " + std::to_string(best->batch_size) +
                      " is recommended, predicted " + format_seconds(best->seconds) + " (" +
                      format_seconds(best->seconds_low) + " to " + format_seconds(best->seconds_high) + "), " +
                      format_number(best->steps, "%.0f") + " steps at " +
                      (best->step_s < 1.0 ? format_number(1000.0 * best->step_s, "%.3g") + " ms" : format_seconds(best->step_s)) +
                      " a step" + beyond_the_plan(w, *best));
  // The rate: measured where arms at other rates ran at this size.
  const bool rates_measured = std::any_of(w.branch_points.begin(), w.branch_points.end(), [](const BranchPoint& p) {
    return std::any_of(p.arms.begin(), p.arms.end(), [](const BranchArm& a) { return std::abs(a.lr_factor - 1.0) > 1e-9; });
  });
  if (const auto m = measured_rate(w, best->batch_size)) {
    const std::string at = "from the branch point at loss " + format_number(m->point_loss, "%.3g");
    if (best->rate_gain) {
      r.reasons.push_back("learning rate " + format_number(best->learning_rate, "%.4g") + " measured: " + at + ", " +
                          format_number(m->factor, "%g") + "x the rule's rate reached loss " + format_number(m->loss, "%.4g") +
                          " against the rule's " + format_number(m->rule_loss, "%.4g") + " (the trunk's scatter " +
                          format_number(m->noise, "%.2g") + ") and needed " + format_number(*best->rate_gain, "%.2f") +
                          "x its samples" + (m->floored ? " (held at 0.5x; it measured less)" : "") +
                          "; the run's steps at this size are scaled by that (one point's gain, carried over the run)");
    } else {
      r.reasons.push_back("learning rate " + format_number(best->learning_rate, "%.4g") + " by the rule: " + at +
                          ", half and twice its rate did not beat it beyond the noise (best " + format_number(m->loss, "%.4g") +
                          " against the rule's " + format_number(m->rule_loss, "%.4g") + ", the trunk's scatter " +
                          format_number(m->noise, "%.2g") + ")");
    }
  } else if (rates_measured && std::abs(best->lr_factor - 1.0) < 1e-9) {
    r.reasons.push_back("learning rate " + format_number(best->learning_rate, "%.4g") +
                        " by the rule: no arm at another rate ran at this size");
  }
  const auto fastest = fastest_prediction(w.predictions);
  // The tie rule's pick; where best_batch is another size, the noise draws
  // overruled the fit (bag_best).
  const auto tied = tie_pick(w.predictions);
  const bool bagged = tied->batch_size != best->batch_size;
  if (fastest->batch_size != best->batch_size && !bagged) {
    r.reasons.push_back("batch " + std::to_string(fastest->batch_size) + " is predicted " +
                        format_number(100.0 * (1.0 - rule_rate_seconds(*fastest) / rule_rate_seconds(*best)), "%.1f") +
                        "% faster, within the " + format_number(100.0 * kNearTie, "%.0f") +
                        "% the prediction does not separate: the larger batch is kept (B_crit at the target, "
                        "measured at higher losses, is more often under- than over-estimated)");
  } else if (fastest->batch_size != best->batch_size) {
    r.reasons.push_back("the measured fit predicts batch " + std::to_string(fastest->batch_size) + " " +
                        format_number(100.0 * (1.0 - rule_rate_seconds(*fastest) / rule_rate_seconds(*best)), "%.0f") +
                        "% faster, but with the arms' losses moved by their noise batch " +
                        std::to_string(best->batch_size) + " is the fastest in " +
                        format_number(100.0 * w.best_batch_agreement.value_or(0.0), "%.0f") +
                        "% of the draws, more than any other: it is recommended");
    // The fit and its draws disagree: at most medium, whatever the draws' share.
    if (r.confidence == Confidence::high) r.confidence = Confidence::medium;
    r.confidence_notes.push_back("the measured fit's own pick (batch " + std::to_string(tied->batch_size) +
                                 ") was overruled by the arms' noise draws");
  }
  if (w.critical_batch_at_target) {
    std::string s = w.critical_fit ? "B_crit grows as the loss falls: " : "B_crit at the branch points: ";
    for (const auto& p : w.branch_points) {
      if (p.critical_batch) s += format_number(*p.critical_batch, "%.0f") + (p.lower_bound ? "+" : "") + " at loss " + format_number(point_loss(p), "%.3g") + ", ";
    }
    s += w.critical_fit ? "carried to " + format_number(*w.critical_batch_at_target, "%.0f") + " at the target"
                        : "held at " + format_number(*w.critical_batch_at_target, "%.0f") +
                              " (it did not grow measurably as the loss fell: not carried past the points)";
    r.reasons.push_back(s);
  }
  if (w.early_best_batch && *w.early_best_batch != best->batch_size) {
    const RunPrediction* early = prediction_of(w, *w.early_best_batch);
    r.reasons.push_back("a from-init estimate (B_crit " + format_number(w.early_critical_batch.value_or(0), "%.0f") +
                        ") would pick batch " + std::to_string(*w.early_best_batch) +
                        (early ? ", predicted at " + format_number(early->seconds / best->seconds, "%.2f") +
                                     "x the recommended size's time for this run"
                               : std::string()));
  }
  if (largest && largest->batch_size != best->batch_size) {
    r.reasons.push_back("the largest candidate (" + std::to_string(largest->batch_size) + ") is predicted " +
                        format_number(largest->seconds / best->seconds, "%.2f") + "x the recommended size's time");
  }
  if (w.schedule) {
    std::string s = "a batch-size schedule";
    for (const auto& st : w.schedule->stages) {
      s += st.from_loss ? ", " + std::to_string(st.batch_size) + " from loss " + format_number(*st.from_loss, "%.3g")
                        : " from " + std::to_string(st.batch_size);
    }
    s += " is predicted " + format_number(100 * w.schedule->saving_share, "%.0f") + "% faster";
    r.reasons.push_back(s);
  }
}

}  // namespace

Recommendation recommend_whole_run(const WholeRun& w, std::int64_t max_fit_batch, bool max_fit_capped) {
  Recommendation r;
  r.objective = Objective::time_to_target;
  r.target_loss = w.target_loss;
  r.max_fit_batch = max_fit_batch;
  r.noise_scale.status = NoiseScaleStatus::not_measured;
  r.noise_scale.message = "the whole-run tune measures it along its trunk instead (the simple noise scale beside B_crit), not after the arms";
  for (const auto& p : w.predictions) {
    BatchPrediction bp;
    bp.batch_size = p.batch_size;
    bp.swept = p.step_time_measured;
    bp.steps_to_target = p.steps;
    bp.step_s = p.step_s;
    bp.seconds_to_target = p.seconds;
    bp.samples_per_s = p.step_s > 0 ? double(p.batch_size) / p.step_s : 0.0;
    r.predictions.push_back(bp);
  }
  const RunPrediction* best = w.best_batch ? prediction_of(w, *w.best_batch) : nullptr;
  if (!best) {
    r.status = RecommendationStatus::none;
    r.confidence = Confidence::none;
    std::string why = "no recommendation for the planned run: ";
    why += w.notes.empty() ? "the whole run could not be predicted" : w.notes.back();
    r.reasons.push_back(why);
    r.reasons.push_back("give the trunk more of the run (--trunk-share), more sizes, or a --target-loss the trunk reaches");
    return r;
  }
  r.status = RecommendationStatus::recommended;
  r.batch_size = best->batch_size;
  r.micro_batch_size = best->batch_size;
  r.accumulation_steps = 1;
  r.learning_rate = best->learning_rate;
  r.learning_rate_rule = to_string(w.lr_scaling) + " scaling from " + format_number(w.base_learning_rate, "%.4g") +
                         " at batch " + std::to_string(w.base_batch) +
                         (std::abs(best->lr_factor - 1.0) > 1e-9
                              ? ", times " + format_number(best->lr_factor, "%g") + (best->rate_gain ? " (measured)" : " (the grid's best; the rule's rate failed)")
                              : std::string());
  r.predicted_seconds_to_target = best->seconds;
  const RunPrediction* largest = nullptr;
  for (const auto& p : w.predictions) {
    if (p.batch_size <= max_fit_batch && (!largest || p.batch_size > largest->batch_size)) largest = &p;
  }
  if (largest) {
    if (largest->batch_size < max_fit_batch) {
      r.max_fit_label = "the largest size predicted (the arms measured up to it; " + std::to_string(max_fit_batch) +
                        (max_fit_capped ? " verified to fit)" : " fits)");
    } else if (max_fit_capped) {
      r.max_fit_label = "the largest size the arms measured (memory verified that far)";
    }
    r.max_fit_batch = largest->batch_size;
    r.max_fit_seconds_to_target = largest->seconds;
    r.max_fit_slowdown = largest->seconds / best->seconds;
  }
  rate_critical_confidence(r, w, best);
  rate_timing_evidence(r, w, best);
  pick_reasons(r, w, best, largest);
  return r;
}

}  // namespace batchtune
