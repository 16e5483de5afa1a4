// recommend()'s last two stages: the confidence (a strike per weakness, each
// with its note) and the reasons a person can check against the numbers.
#include "reports/analysis/recommend_stages.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "reports/analysis/timing_quality.hpp"
#include "reports/util/statistics.hpp"
#include "reports/util/units.hpp"

namespace batchtune::recommend_stages {

// Stage 5: confidence from the seed spread, the fit quality, and how far the
// answer stands from the evidence. Each weakness is a note and a strike.
void rate_confidence(Recommendation& r, const Evidence& e, const Choice& choice) {
  const SweepResult& sweep = e.sweep;
  const RecommendSettings& settings = e.settings;
  const Range& range = e.range;
  const Measured* at_choice = e.measured_at(*r.batch_size);
  int strikes = 0;
  auto weak = [&](const std::string& note, int weight = 1) {
    r.confidence_notes.push_back(note);
    strikes += weight;
  };
  if (sweep.seeds < 2) {
    weak("one seed per size: run --seeds 3 to measure the spread");
  } else if (at_choice && at_choice->seconds_spread) {
    const double spread = *at_choice->seconds_spread;
    r.confidence_notes.push_back("time to target varies " + format_number(spread * 100, "%.1f") + "% across " +
                                 std::to_string(sweep.seeds) + " seeds at the recommended size");
    if (spread > 0.15) ++strikes;
  }
  if (e.about_target()) {
    if (!r.steps_fit) {
      weak(std::to_string(e.fits.steps_points.size()) +
               " size(s) reached the target in every seed: too few for the S(B) fit",
           2);
    } else if (r.steps_fit->points < 3) {
      // Two points fix both parameters: the line passes through them, R^2 is
      // 1 by construction and says nothing.
      weak("S(B) fitted through only " + std::to_string(r.steps_fit->points) +
           " sizes: it passes through them exactly, so there is no measure of its quality; sweep a third size that "
           "reaches the target");
    } else {
      r.confidence_notes.push_back("S(B) fit R^2 " + format_number(r.steps_fit->r_squared, "%.2f") + " over " +
                                   std::to_string(r.steps_fit->points) + " sizes");
      if (r.steps_fit->r_squared < 0.8) ++strikes;
    }
  }
  if (!at_choice) r.confidence_notes.push_back("the recommended size was not swept: its figures are interpolated");
  // The best size at the edge of what was swept: the optimum may lie beyond.
  // (For time to target the low edge is judged on the fastest prediction,
  // before the tie rule moved the pick up.)
  if (settings.objective != Objective::max_fit && !settings.effective_batch) {
    if (choice.fastest.value_or(choice.batch) <= range.smallest_swept &&
        range.smallest_swept > range.smallest_possible) {
      weak(std::string(choice.fastest ? "the fastest predicted size" : "the best size") + " is the smallest swept, " +
           std::to_string(range.smallest_swept) +
           ": a smaller one may be better; try smaller sizes (--batch-sizes from " +
           std::to_string(std::max(range.smallest_possible, range.smallest_swept / 4)) + ")");
    } else if (choice.batch >= range.largest_swept && range.largest_swept < r.max_fit_batch) {
      weak("the best size is " + std::string(choice.batch > range.largest_swept ? "beyond " : "") +
           "the largest swept, " + std::to_string(range.largest_swept) +
           ": a larger one may be better; try larger sizes (up to the safe maximum " +
           std::to_string(r.max_fit_batch) + ")");
    }
  }
  if (settings.effective_batch) {
    const double wanted = double(*settings.effective_batch);
    if (wanted > kEffectiveBatchReach * double(range.largest_swept) ||
        wanted * kEffectiveBatchReach < double(range.smallest_swept)) {
      weak("--effective-batch " + std::to_string(*settings.effective_batch) + " is far outside the swept sizes (" +
           std::to_string(range.smallest_swept) + " to " + std::to_string(range.largest_swept) +
           "): its steps to target are extrapolated from S(B)");
    }
  }
  {
    double lr_lo = std::numeric_limits<double>::infinity(), lr_hi = 0;
    for (const auto& a : sweep.arms) {
      if (a.status != ArmStatus::completed || !(a.learning_rate > 0)) continue;
      lr_lo = std::min(lr_lo, a.learning_rate);
      lr_hi = std::max(lr_hi, a.learning_rate);
    }
    const double lr = *r.learning_rate;
    if (lr_hi > 0 && (lr > kLearningRateReach * lr_hi || lr * kLearningRateReach < lr_lo)) {
      weak("the learning rate " + format_number(lr, "%.4g") + " is far outside the rates the completed arms trained at (" +
           format_number(lr_lo, "%.4g") + " to " + format_number(lr_hi, "%.4g") + "): untested; try it on a short run first");
    }
  }
  const WorkloadInfo& workload = e.workload;
  if (workload.task == "classification" && workload.num_classes >= 2) {
    const double chance = 1.0 / double(workload.num_classes);
    // At the recommended size; for a size not swept, the best of the sweep.
    double accuracy = -1;
    if (at_choice) {
      if (at_choice->final_accuracy) accuracy = *at_choice->final_accuracy;
    } else {
      for (const auto& m : e.measured) if (m.final_accuracy) accuracy = std::max(accuracy, *m.final_accuracy);
    }
    if (accuracy >= 0 && accuracy <= kChanceSlack * chance) {
      weak("validation accuracy " + format_number(accuracy, "%.3f") + (at_choice ? " at the recommended size" : " at best") +
               " is at chance (1/" + std::to_string(workload.num_classes) + " = " + format_number(chance, "%.3f") +
               "): the model has not learned yet, and a target loss it reaches says little; give a larger --budget or "
               "check --lr",
           2);
    }
  }
  if (sweep.incomplete) weak("the sweep is incomplete", 2);
  const TimingQuality timing = timing_quality(sweep);
  const bool timed_objective =
      settings.objective == Objective::time_to_target || settings.objective == Objective::throughput;
  if (timed_objective && timing.unreliable()) {
    weak("timing unreliable: " + short_description(timing) + " (the reasons say why and what to change)");
  }
  r.confidence = strikes == 0 ? Confidence::high : strikes == 1 ? Confidence::medium : Confidence::low;
}

// Stage 6: reasons a person can check against the numbers.
std::vector<std::string> reasons(const Recommendation& r, const Evidence& e, const Choice& choice, const Plan& planned,
                                 const NoiseScale& noise) {
  const SweepResult& sweep = e.sweep;
  const RecommendSettings& settings = e.settings;
  std::vector<std::string> out;
  const std::string target = sweep.target_loss ? format_number(*sweep.target_loss, "%.4g") : "-";
  if (settings.effective_batch) {
    const BatchPrediction* p_best = prediction_at(r.predictions, choice.batch);
    std::string s =
        "An effective batch of " + std::to_string(*settings.effective_batch) + " was asked for (--effective-batch)";
    if (planned.accumulation > 1) {
      s += "; above the safe maximum " + std::to_string(r.max_fit_batch) + ", it runs as " +
           std::to_string(planned.micro) + " x " + std::to_string(planned.accumulation) +
           " accumulated micro-batches (the micro-batch near the best predicted throughput)";
    }
    s += ": predicted " + format_seconds(r.predicted_seconds_to_target) + " to the target loss " + target;
    if (choice.batch != planned.batch && p_best && p_best->seconds_to_target) {
      s += ", against " + format_seconds(p_best->seconds_to_target) + " at batch " + std::to_string(choice.batch) +
           ", the " + to_string(settings.objective) + " choice";
    }
    out.push_back(s + ".");
  }
  const std::string chosen_text = std::to_string(choice.batch);
  const Measured* m_choice = e.measured_at(choice.batch);
  const std::vector<std::int64_t>& near_best = choice.near_best;
  if (settings.objective == Objective::time_to_target) {
    const BatchPrediction* p_objective = prediction_at(r.predictions, choice.batch);
    if (choice.basis == "predicted") {
      out.push_back("Batch " + chosen_text +
                    (near_best.size() > 1 ? " is predicted to reach the target validation loss "
                                          : " has the shortest predicted time to the target validation loss ") +
                    target + ": " + format_seconds(p_objective ? p_objective->seconds_to_target : std::nullopt) +
                    (m_choice && m_choice->seconds_to_target
                         ? " (" + format_seconds(m_choice->seconds_to_target) + " measured)"
                         : std::string()) +
                    ", of " + std::to_string(r.predictions.size()) + " sizes from " +
                    std::to_string(e.range.smallest_swept) + " to " + std::to_string(r.max_fit_batch) +
                    (choice.refused.empty() ? std::string() : ", among those the generalisation constraint allows (below)") +
                    (near_best.size() > 1
                         ? "; sizes " + std::to_string(near_best.front()) + " to " + chosen_text +
                               " are all within " + format_number(kFlatBand * 100, "%.0f") +
                               "% of the fastest, and the largest of them takes the fewest steps"
                         : std::string()) +
                    ".");
    } else {
      out.push_back("Batch " + chosen_text + " reached the target validation loss " + target +
                    " soonest in the sweep (" +
                    format_seconds(m_choice ? m_choice->seconds_to_target : std::nullopt) +
                    "); too few sizes reached it in every seed to fit S(B).");
    }
  } else if (settings.objective == Objective::throughput) {
    if (near_best.size() > 1) {
      double tie_noise = 0;
      for (auto b : near_best) tie_noise = std::max(tie_noise, e.measured_at(b)->throughput_noise);
      out.push_back("Batch sizes " + sizes_text(near_best) + " are within measured noise (" +
                    format_number(tie_noise * 100, "%.1f") + "%) of the highest throughput, " +
                    format_number(*choice.best_rate->samples_per_s, "%.0f") + " samples/s at batch " +
                    std::to_string(choice.best_rate->batch) + "; the smallest of them, " + chosen_text + " (" +
                    format_number(m_choice->samples_per_s, "%.0f") +
                    " samples/s), is taken: the same throughput with less memory and more optimizer steps per "
                    "sample.");
    } else {
      out.push_back("Batch " + chosen_text + " had the highest measured throughput, " +
                    format_number(m_choice->samples_per_s, "%.0f") + " samples/s, beyond the measured noise (" +
                    format_number(m_choice->throughput_noise * 100, "%.1f") + "%) of every other size.");
    }
  } else if (settings.objective == Objective::sample_efficiency) {
    out.push_back("Batch " + chosen_text + " reached the target loss " + target + " with the fewest samples" +
                  (m_choice && m_choice->samples_to_target ? " (" + format_number(*m_choice->samples_to_target, "%.0f") + ")"
                                                           : "") +
                  ".");
  } else {
    out.push_back("Batch " + chosen_text +
                  " is the probe's safe maximum, the largest batch that fits with the margin.");
  }
  if (r.steps_fit) {
    std::string s = "Steps to target follow S(B) = " + format_number(r.steps_fit->min_steps, "%.0f") + " x (1 + " +
                    format_number(r.steps_fit->critical_batch, "%.0f") + "/B), so past B_crit ~ " +
                    format_number(r.steps_fit->critical_batch, "%.0f") + " a larger batch saves few steps";
    const Measured& lo = e.measured.front();
    const Measured& hi = e.measured.back();
    if (lo.samples_per_s && hi.samples_per_s) {
      s += ", while throughput goes from " + format_number(*lo.samples_per_s, "%.0f") + " samples/s at batch " +
           std::to_string(lo.batch) + " to " + format_number(*hi.samples_per_s, "%.0f") + " at " + std::to_string(hi.batch);
    }
    out.push_back(s + ".");
  }
  if (r.max_fit_batch != planned.batch) {
    const Measured* m_largest = e.measured_at(r.max_fit_batch);
    std::string s = "Batch " + std::to_string(r.max_fit_batch) + ", " + r.max_fit_label + ", ";
    if (r.max_fit_slowdown) {
      s += "would take " + format_number(*r.max_fit_slowdown, "%.2f") + "x as long (" +
           format_seconds(r.max_fit_seconds_to_target) + ")";
    } else {
      s += "has no time to target";
    }
    if (m_largest && !m_largest->seconds_to_target) s += "; in the sweep it did not reach the target within the budget";
    out.push_back(s + ".");
  }
  // Where the unconstrained optimum lies above what fits: say so, and why
  // accumulation does not help on one device. T_acc(B) = S(B) (B/m) t(m) and
  // S(B) B = S_min (B + B_crit) grows with B, so an effective batch B > m run
  // as B/m micro-batches of m always takes longer than m itself.
  if (settings.objective == Objective::time_to_target && r.steps_fit && r.step_time_fit &&
      r.step_time_fit->saturation_batch) {
    const double unconstrained = std::sqrt(r.steps_fit->critical_batch * *r.step_time_fit->saturation_batch);
    if (unconstrained > 1.1 * double(r.max_fit_batch)) {
      out.push_back("Without the memory limit the optimum would be near sqrt(B_crit x B_sat) ~ " +
                    format_number(unconstrained, "%.0f") + ", above the safe maximum " + std::to_string(r.max_fit_batch) +
                    "; gradient accumulation would reach that effective batch but not sooner (each step costs as "
                    "many micro-batches), so on one device the safe maximum's side is the choice.");
    }
  }
  if (noise.simple_noise_scale) {
    out.push_back("The gradient noise scale B_simple ~ " + format_number(*noise.simple_noise_scale, "%.0f") + " (" +
                  format_interval(noise.low, noise.high, "%.0f") + ", after " +
                  std::to_string(noise.warm_in_steps) +
                  " warm-in steps) is a prior for B_crit, good to about an order of magnitude.");
  } else if (noise.status == NoiseScaleStatus::noise_dominates) {
    out.push_back("The gradient noise dominated the measured gradient (|G|^2 estimate not positive): B_simple is "
                  "very large at these weights, and small batches lose little.");
  }
  if (settings.max_validation_loss_excess && choice.best_validation_batch) {
    const std::string tol = format_number(100.0 * *settings.max_validation_loss_excess, "%g") + "%";
    if (choice.refused.empty()) {
      out.push_back("Every swept size's final validation loss is within " + tol + " of the best (" +
                    format_number(choice.best_validation_loss, "%.4g") + " at batch " + std::to_string(*choice.best_validation_batch) +
                    ", --max-val-loss-excess): none was refused.");
    } else {
      std::string which;
      for (std::int64_t b : choice.refused) {
        const Measured* m = e.measured_at(b);
        which += (which.empty() ? "" : ", ") + std::to_string(b) +
                 (m && m->final_loss ? " (" + format_number(*m->final_loss, "%.4g") + ")" : std::string());
      }
      std::string s = "Refused for generalisation (--max-val-loss-excess " + tol + "): batch " + which +
                      ", whose final validation loss is more than " + tol + " above the best, " +
                      format_number(choice.best_validation_loss, "%.4g") + " at batch " +
                      std::to_string(*choice.best_validation_batch) + " (sizes between them and the others too)";
      if (choice.unconstrained) {
        s += "; without the constraint the " + to_string(settings.objective) + " choice would be batch " +
             std::to_string(*choice.unconstrained);
      }
      out.push_back(s + ".");
    }
  }
  return out;
}

}  // namespace batchtune::recommend_stages
