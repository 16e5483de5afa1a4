#include "reports/recommend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "reports/error.hpp"
#include "reports/fit.hpp"
#include "reports/statistics.hpp"
#include "reports/units.hpp"

namespace batchtune {
namespace {

// y = a + b x(batch) over (batch, y) points with positive, finite values,
// weighted by 1/y^2 (relative errors: small values matter as much as large
// ones); none with fewer than two distinct batch sizes.
template <typename X>
std::optional<Line> fit_relative(const std::vector<std::pair<double, double>>& points, X x_of) {
  std::vector<double> x, y, w;
  std::set<double> distinct;
  for (const auto& [b, v] : points) {
    if (!(b > 0) || !std::isfinite(v) || v <= 0) continue;
    x.push_back(x_of(b));
    y.push_back(v);
    w.push_back(1.0 / (v * v));
    distinct.insert(b);
  }
  if (distinct.size() < 2) return std::nullopt;
  auto line = fit_line(x, y, w);
  if (line) line->points = int(x.size());
  return line;
}

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
  std::optional<double> step_s;             // median wall time per step (compute + data)
  std::optional<double> samples_per_s;
  // The relative uncertainty of samples_per_s: twice the standard error of
  // the block-median throughputs (statistics.hpp), or the spread of single
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

std::vector<Measured> measure(const SweepResult& sweep) {
  std::map<std::int64_t, std::vector<const SweepArm*>> by_batch;
  for (const auto& a : sweep.arms) by_batch[a.batch_size].push_back(&a);
  std::vector<Measured> out;
  for (const auto& [batch, arms] : by_batch) {
    Measured m;
    m.batch = batch;
    m.arms = int(arms.size());
    m.learning_rate = arms.front()->learning_rate;
    std::vector<double> step_medians, rates, block_rates, single_rates, steps, samples, seconds, losses, accuracies;
    for (const SweepArm* a : arms) {
      if (a->status == ArmStatus::completed) ++m.completed;
      const std::vector<double> totals = step_total_seconds(*a);
      if (auto med = median_of(totals)) step_medians.push_back(*med);
      for (double t : block_medians(totals)) if (t > 0) block_rates.push_back(double(batch) / t);
      for (double t : totals) if (std::isfinite(t) && t > 0) single_rates.push_back(double(batch) / t);
      if (a->samples_per_s) rates.push_back(*a->samples_per_s);
      if (a->status == ArmStatus::completed && a->final_validation_loss) losses.push_back(*a->final_validation_loss);
      if (a->status == ArmStatus::completed && a->final_validation_accuracy) {
        accuracies.push_back(*a->final_validation_accuracy);
      }
      if (sweep.target_loss) {
        if (auto t = time_to_target(*a, *sweep.target_loss)) {
          ++m.reached;
          steps.push_back(t->steps);
          samples.push_back(t->samples);
          seconds.push_back(t->seconds);
        }
      }
    }
    if (auto med = median_of(step_medians)) m.step_s = *med;
    m.samples_per_s = mean_of(rates);
    m.final_loss = mean_of(losses);
    m.final_accuracy = mean_of(accuracies);
    const double noise = block_rates.size() >= 2
                             ? 2.0 * relative_spread_of(block_rates) / std::sqrt(double(block_rates.size()))
                             : relative_spread_of(single_rates);
    m.throughput_noise = std::max(kThroughputNoiseFloor, std::isfinite(noise) ? noise : 0.0);
    if (int(seconds.size()) == m.arms) {
      // spread_of, as summarise_targets: the table and the recommendation print the same number.
      m.steps_to_target = spread_of(steps).mean;
      m.samples_to_target = spread_of(samples).mean;
      m.seconds_to_target = spread_of(seconds).mean;
      if (seconds.size() > 1 && *m.seconds_to_target > 0) m.seconds_spread = relative_spread_of(seconds);
    }
    out.push_back(m);
  }
  return out;
}

std::int64_t round_to_multiple(double b, std::int64_t multiple) {
  const std::int64_t m = std::max<std::int64_t>(1, multiple);
  return std::max<std::int64_t>(m, static_cast<std::int64_t>(std::llround(b / double(m))) * m);
}

std::string fmt(double v, const char* f) { return format_number(v, f); }

std::string sizes_text(const std::vector<std::int64_t>& sizes) {
  std::string s;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    s += (i == 0 ? "" : i + 1 == sizes.size() ? " and " : ", ") + std::to_string(sizes[i]);
  }
  return s;
}

std::string status_name(ArmStatus s) { return nlohmann::json(s).get<std::string>(); }

// Why no arm completed, and what to change: one sentence each.
std::vector<std::string> no_completed_arm_reasons(const SweepResult& sweep) {
  std::map<std::string, int> count;
  const SweepArm* first_diverged = nullptr;
  const SweepArm* first_other = nullptr;
  for (const auto& a : sweep.arms) {
    ++count[status_name(a.status)];
    if (a.status == ArmStatus::diverged && !first_diverged) first_diverged = &a;
    if (a.status != ArmStatus::diverged && !first_other) first_other = &a;
  }
  std::string tally;
  for (const auto& [status, n] : count) tally += (tally.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  std::vector<std::string> reasons;
  std::string s = "No arm of the sweep completed (" + tally + "), so no batch size has evidence";
  const SweepArm* example = first_diverged ? first_diverged : first_other;
  if (example) {
    s += "; for example batch " + std::to_string(example->batch_size) + " seed " + std::to_string(example->seed) +
         " at learning rate " + fmt(example->learning_rate, "%.4g") + ": " +
         (example->message.empty() ? status_name(example->status) : example->message);
  }
  reasons.push_back(s + ".");
  if (first_diverged) {
    reasons.push_back("Lower the learning rate (--lr; the sweep ran " + fmt(sweep.base_learning_rate, "%.4g") +
                      " at batch " + std::to_string(sweep.base_batch) + ", scaled " + sweep.lr_scaling +
                      " to each size), or scale it less with the batch (--lr-scaling sqrt or none), and sweep again.");
  }
  if (count.count("out_of_memory")) {
    reasons.push_back("Arms ran out of memory at sizes the probe judged safe: give a larger --margin or a smaller "
                      "--memory-limit, or list smaller --batch-sizes.");
  }
  if (count.count("failed") || count.count("interrupted")) {
    reasons.push_back("Arms failed or were interrupted: their messages (sweep.arms[].message) say why; fix that and "
                      "sweep again.");
  }
  return reasons;
}

// Why no size reached the target in every seed, and what to change.
std::vector<std::string> no_target_reasons(const SweepResult& sweep, const std::vector<Measured>& measured,
                                           const std::string& objective) {
  std::vector<std::string> reasons;
  if (!sweep.target_loss) {
    reasons.push_back("There is no target loss (no completed arm was evaluated), so no batch size has a time to "
                      "target for " + objective + ".");
    reasons.push_back("Give --target-loss, or a --budget long enough for evaluations (--eval-every).");
    return reasons;
  }
  int arms = 0, reached = 0;
  const Measured* lowest = nullptr;
  for (const auto& m : measured) {
    arms += m.arms;
    reached += m.reached;
    if (m.final_loss && (!lowest || *m.final_loss < *lowest->final_loss)) lowest = &m;
  }
  std::string s = "No batch size reached the target validation loss " +
                  fmt(*sweep.target_loss, "%.4g") + " in every seed within the budget (" + std::to_string(reached) +
                  " of " + std::to_string(arms) + " arms reached it";
  if (lowest) {
    s += "; the lowest final validation loss was " + fmt(*lowest->final_loss, "%.4g") + " at batch " +
         std::to_string(lowest->batch);
  }
  reasons.push_back(s + ").");
  reasons.push_back(std::string("Give a larger --budget, ") +
                    (sweep.target_source == "--target-loss" ? "a higher --target-loss (or none: the default is a loss "
                                                              "half the arms reach), "
                                                            : "") +
                    "or check the learning rate (--lr, --lr-scaling): a rate too high or too low keeps the loss up.");
  return reasons;
}

}  // namespace

double scaled_learning_rate(const std::string& rule, double base_lr, std::int64_t base_batch, std::int64_t batch) {
  const double ratio = double(batch) / double(base_batch);
  if (rule == "linear") return base_lr * ratio;
  if (rule == "sqrt") return base_lr * std::sqrt(ratio);
  return base_lr;
}

std::optional<StepsFit> fit_steps_to_target(const std::vector<std::pair<double, double>>& batch_steps) {
  const auto line = fit_relative(batch_steps, [](double b) { return 1.0 / b; });
  if (!line || line->intercept <= 0 || line->slope < 0) return std::nullopt;
  StepsFit f;
  f.min_steps = line->intercept;
  f.critical_batch = line->slope / line->intercept;
  f.r_squared = line->r_squared;
  f.points = line->points;
  return f;
}

std::optional<StepTimeFit> fit_step_time(const std::vector<std::pair<double, double>>& batch_seconds) {
  const auto line = fit_relative(batch_seconds, [](double b) { return b; });
  if (!line) return std::nullopt;
  StepTimeFit f;
  f.fixed_s = line->intercept;
  f.per_sample_s = line->slope;
  f.r_squared = line->r_squared;
  f.points = line->points;
  if (f.fixed_s > 0 && f.per_sample_s > 0) f.saturation_batch = f.fixed_s / f.per_sample_s;
  return f;
}

double interpolate_step_time(const std::vector<std::pair<double, double>>& batch_seconds, double batch) {
  return interpolate_log_log(batch_seconds, batch);
}

// Predicted times this close to the fastest count as a tie.
constexpr double kFlatBand = 0.05;
// A learning rate or an effective batch further than this factor outside
// what the sweep ran is untested.
constexpr double kLearningRateReach = 2.0;
constexpr double kEffectiveBatchReach = 4.0;
// A classifier whose validation accuracy is at most this factor above chance
// (1 / num_classes) has not learned.
constexpr double kChanceSlack = 1.1;

Recommendation recommend(const SweepResult& sweep, const ProbeResult* probe, const WorkloadInfo& workload,
                         const NoiseScale& noise, const RecommendSettings& settings) {
  const auto& objectives = recommendation_objectives();
  if (std::find(objectives.begin(), objectives.end(), settings.objective) == objectives.end()) {
    throw UsageError("--objective " + settings.objective +
                     ": choose time-to-target, throughput, sample-efficiency or max-fit");
  }
  Recommendation r;
  r.objective = settings.objective;
  r.target_loss = sweep.target_loss;
  r.noise_scale = noise;
  const std::vector<Measured> measured = measure(sweep);
  if (measured.empty()) throw InputError("the sweep has no arms: nothing to recommend from");

  const std::int64_t multiple = probe ? std::max<std::int64_t>(1, probe->multiple_of) : 1;
  const std::int64_t largest_swept = measured.back().batch;
  const std::int64_t smallest_swept = measured.front().batch;
  const std::int64_t smallest_possible = probe ? std::max<std::int64_t>(1, probe->min_batch) : 1;
  r.max_fit_batch = probe ? probe->safe_max_batch : largest_swept;
  if (probe && probe->capped && !probe->cap_source.empty() && probe->cap_source != "--max-batch") {
    r.max_fit_label = "the largest size the probe verified (capped by " + probe->cap_source +
                      "; memory holds more)";
  } else if (!probe) {
    r.max_fit_label = "the largest swept size (no probe)";
  }

  // The fits.
  std::vector<std::pair<double, double>> steps_points, time_points;
  for (const auto& m : measured) {
    if (m.steps_to_target) steps_points.emplace_back(double(m.batch), *m.steps_to_target);
    if (m.step_s) time_points.emplace_back(double(m.batch), *m.step_s);
  }
  r.steps_fit = fit_steps_to_target(steps_points);
  r.step_time_fit = fit_step_time(time_points);

  // Predictions over a grid of feasible sizes: the swept ones, powers of two
  // and their midpoints (x1.5), and the safe maximum.
  std::set<std::int64_t> grid;
  for (const auto& m : measured) grid.insert(m.batch);
  for (double b = 1; b <= double(r.max_fit_batch); b *= 2) {
    for (double f : {1.0, 1.5}) {
      const std::int64_t c = round_to_multiple(b * f, multiple);
      if (c >= smallest_swept && c <= r.max_fit_batch) grid.insert(c);
    }
  }
  grid.insert(r.max_fit_batch);
  auto predict = [&](std::int64_t batch) {
    BatchPrediction p;
    p.batch_size = batch;
    for (const auto& m : measured) {
      if (m.batch == batch) {
        p.swept = true;
        p.measured_seconds_to_target = m.seconds_to_target;
      }
    }
    if (!time_points.empty()) {
      p.step_s = interpolate_step_time(time_points, double(batch));
      p.samples_per_s = double(batch) / *p.step_s;
    }
    if (r.steps_fit) {
      p.steps_to_target = r.steps_fit->min_steps * (1.0 + r.steps_fit->critical_batch / double(batch));
      if (p.step_s) p.seconds_to_target = *p.steps_to_target * *p.step_s;
    }
    return p;
  };
  for (std::int64_t b : grid) r.predictions.push_back(predict(b));
  auto prediction_at = [&r](std::int64_t b) -> const BatchPrediction* {
    for (const auto& p : r.predictions) if (p.batch_size == b) return &p;
    return nullptr;
  };
  auto measured_at = [&measured](std::int64_t b) -> const Measured* {
    for (const auto& m : measured) if (m.batch == b) return &m;
    return nullptr;
  };
  const Measured* m_largest = measured_at(r.max_fit_batch);
  if (const BatchPrediction* p = prediction_at(r.max_fit_batch)) r.max_fit_seconds_to_target = p->seconds_to_target;
  if (!r.max_fit_seconds_to_target && m_largest) r.max_fit_seconds_to_target = m_largest->seconds_to_target;

  // No answer without evidence: the objective's choice needs completed arms
  // and, for the objectives about the target, a size that reached it in
  // every seed.
  int completed = 0;
  bool any_at_target = false, any_rate = false;
  for (const auto& m : measured) {
    completed += m.completed;
    any_at_target = any_at_target || m.seconds_to_target.has_value();
    any_rate = any_rate || (m.completed > 0 && m.samples_per_s);
  }
  std::vector<std::string> none_reasons;
  if (completed == 0) {
    none_reasons = no_completed_arm_reasons(sweep);
  } else if ((settings.objective == "time-to-target" || settings.objective == "sample-efficiency") && !any_at_target) {
    none_reasons = no_target_reasons(sweep, measured, settings.objective);
  } else if (settings.objective == "throughput" && !any_rate) {
    none_reasons.push_back("No completed arm has a timed step (samples/s), so no batch size has a throughput; give "
                           "a --budget of more steps per arm.");
  }
  if (!none_reasons.empty()) {
    r.status = kNoRecommendation;
    r.confidence = "none";
    r.reasons = none_reasons;
    if (sweep.incomplete) r.reasons.push_back("The sweep is incomplete: " + sweep.incomplete_reason + ".");
    return r;
  }

  // The choice.
  std::int64_t chosen = smallest_swept;
  std::vector<std::int64_t> near_best;  // sizes tied with the best (within kFlatBand, or within noise)
  std::optional<std::int64_t> fastest;  // time-to-target: the shortest prediction, before the tie rule
  std::string basis;
  const Measured* best_rate = nullptr;
  if (settings.objective == "time-to-target") {
    if (r.steps_fit && !time_points.empty()) {
      // T(B) is flat near its minimum (between B_sat and B_crit), and the
      // predictions carry more noise than a few percent: among the sizes
      // within kFlatBand of the fastest, take the largest (fewer optimizer
      // steps for the same time).
      double best = std::numeric_limits<double>::infinity();
      for (const auto& p : r.predictions) {
        if (p.seconds_to_target) best = std::min(best, *p.seconds_to_target);
      }
      for (const auto& p : r.predictions) {
        if (p.seconds_to_target && *p.seconds_to_target == best) fastest = p.batch_size;
        if (p.seconds_to_target && *p.seconds_to_target <= best * (1.0 + kFlatBand)) {
          near_best.push_back(p.batch_size);
          chosen = p.batch_size;  // predictions are sorted by batch size
        }
      }
      basis = "predicted";
    } else {
      double best = std::numeric_limits<double>::infinity();
      for (const auto& m : measured) {
        if (m.seconds_to_target && *m.seconds_to_target < best) {
          best = *m.seconds_to_target;
          chosen = m.batch;
        }
      }
      basis = "measured";
    }
  } else if (settings.objective == "throughput") {
    // Throughputs within measured noise of the highest are a tie: no pick on
    // a 0.15% difference. Among the tied sizes the smallest is taken: the
    // same samples/s with less memory and more optimizer steps per sample.
    for (const auto& m : measured) {
      if (m.completed > 0 && m.samples_per_s && (!best_rate || *m.samples_per_s > *best_rate->samples_per_s)) best_rate = &m;
    }
    for (const auto& m : measured) {
      if (m.completed == 0 || !m.samples_per_s) continue;
      const double shortfall = 1.0 - *m.samples_per_s / *best_rate->samples_per_s;
      if (shortfall <= std::max(m.throughput_noise, best_rate->throughput_noise)) near_best.push_back(m.batch);
    }
    chosen = near_best.front();
    basis = "measured";
  } else if (settings.objective == "sample-efficiency") {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& m : measured) {
      if (m.samples_to_target && *m.samples_to_target < best) {
        best = *m.samples_to_target;
        chosen = m.batch;
      }
    }
    basis = "measured";
  } else {
    chosen = r.max_fit_batch;
    basis = "max-fit";
  }

  // An effective batch the user asks for (--effective-batch: a paper's global
  // batch, the batch of a multi-device run) replaces the objective's choice.
  // Above the safe maximum it runs as micro-batches of the size with the best
  // predicted throughput, accumulated; no objective picks such a batch itself
  // (see the reason about the unconstrained optimum below).
  const std::int64_t objective_choice = chosen;
  std::int64_t batch = chosen, micro = chosen, accumulation = 1;
  std::optional<double> accumulated_seconds;
  if (settings.effective_batch) {
    const std::int64_t wanted = *settings.effective_batch;
    if (wanted <= r.max_fit_batch) {
      batch = micro = wanted;
      if (!prediction_at(wanted)) {
        r.predictions.push_back(predict(wanted));
        std::sort(r.predictions.begin(), r.predictions.end(),
                  [](const BatchPrediction& a, const BatchPrediction& b) { return a.batch_size < b.batch_size; });
      }
    } else {
      micro = r.max_fit_batch;
      double best = -1;
      for (const auto& p : r.predictions) {
        if (p.samples_per_s && *p.samples_per_s > best) {
          best = *p.samples_per_s;
          micro = p.batch_size;
        }
      }
      accumulation = (wanted + micro - 1) / micro;
      micro = (wanted + accumulation - 1) / accumulation;
      batch = micro * accumulation;
      if (r.steps_fit && !time_points.empty()) {
        accumulated_seconds = r.steps_fit->min_steps * (1.0 + r.steps_fit->critical_batch / double(batch)) *
                              double(accumulation) * interpolate_step_time(time_points, double(micro));
      }
    }
  }
  r.batch_size = batch;
  r.micro_batch_size = micro;
  r.accumulation_steps = accumulation;

  // Learning rate: the rule the sweep used and validated.
  r.learning_rate = scaled_learning_rate(sweep.lr_scaling, sweep.base_learning_rate, sweep.base_batch, batch);
  const Measured* at_choice = measured_at(batch);
  const std::string base = "batch " + std::to_string(sweep.base_batch) + " at " + fmt(sweep.base_learning_rate, "%g");
  if (sweep.lr_scaling == "linear") {
    r.learning_rate_rule = "linear scaling from " + base + " (" + workload.optimizer + "), the rule the sweep ran";
  } else if (sweep.lr_scaling == "sqrt") {
    r.learning_rate_rule = "square-root scaling from " + base + " (" + workload.optimizer + "), the rule the sweep ran";
  } else {
    r.learning_rate_rule = "the base learning rate, unscaled (--lr-scaling none), as the sweep ran";
  }
  r.learning_rate_rule += at_choice ? "; this size was swept at this rate" : "; this size was not swept: interpolated";

  if (const BatchPrediction* p_choice = prediction_at(batch)) r.predicted_seconds_to_target = p_choice->seconds_to_target;
  if (accumulation > 1) r.predicted_seconds_to_target = accumulated_seconds;
  if (at_choice) r.measured_seconds_to_target = at_choice->seconds_to_target;
  const auto t_choice = r.predicted_seconds_to_target ? r.predicted_seconds_to_target : r.measured_seconds_to_target;
  if (t_choice && r.max_fit_seconds_to_target && *t_choice > 0) {
    r.max_fit_slowdown = *r.max_fit_seconds_to_target / *t_choice;
  }

  // Confidence: seed spread, fit quality, and how far the answer stands from
  // the evidence. Each weakness is a note and a strike.
  int strikes = 0;
  auto weak = [&](const std::string& note, int weight = 1) {
    r.confidence_notes.push_back(note);
    strikes += weight;
  };
  if (sweep.seeds < 2) {
    weak("one seed per size: run --seeds 3 to measure the spread");
  } else if (at_choice && at_choice->seconds_spread) {
    const double spread = *at_choice->seconds_spread;
    r.confidence_notes.push_back("time to target varies " + fmt(spread * 100, "%.1f") + "% across " +
                                 std::to_string(sweep.seeds) + " seeds at the recommended size");
    if (spread > 0.15) ++strikes;
  }
  if (settings.objective == "time-to-target" || settings.objective == "sample-efficiency") {
    if (!r.steps_fit) {
      weak(std::to_string(steps_points.size()) + " size(s) reached the target in every seed: too few for the S(B) fit",
           2);
    } else if (r.steps_fit->points < 3) {
      // Two points fix both parameters: the line passes through them, R^2 is
      // 1 by construction and says nothing.
      weak("S(B) fitted through only " + std::to_string(r.steps_fit->points) +
           " sizes: it passes through them exactly, so there is no measure of its quality; sweep a third size that "
           "reaches the target");
    } else {
      r.confidence_notes.push_back("S(B) fit R^2 " + fmt(r.steps_fit->r_squared, "%.2f") + " over " +
                                   std::to_string(r.steps_fit->points) + " sizes");
      if (r.steps_fit->r_squared < 0.8) ++strikes;
    }
  }
  if (!at_choice) r.confidence_notes.push_back("the recommended size was not swept: its figures are interpolated");
  // The best size at the edge of what was swept: the optimum may lie beyond.
  // (For time to target the low edge is judged on the fastest prediction,
  // before the tie rule moved the pick up.)
  if (settings.objective != "max-fit" && !settings.effective_batch) {
    if (fastest.value_or(objective_choice) <= smallest_swept && smallest_swept > smallest_possible) {
      weak(std::string(fastest ? "the fastest predicted size" : "the best size") + " is the smallest swept, " +
           std::to_string(smallest_swept) +
           ": a smaller one may be better; try smaller sizes (--batch-sizes from " +
           std::to_string(std::max(smallest_possible, smallest_swept / 4)) + ")");
    } else if (objective_choice >= largest_swept && largest_swept < r.max_fit_batch) {
      weak("the best size is " + std::string(objective_choice > largest_swept ? "beyond " : "") +
           "the largest swept, " + std::to_string(largest_swept) + ": a larger one may be better; try larger sizes "
           "(up to the safe maximum " + std::to_string(r.max_fit_batch) + ")");
    }
  }
  if (settings.effective_batch) {
    const double wanted = double(*settings.effective_batch);
    if (wanted > kEffectiveBatchReach * double(largest_swept) ||
        wanted * kEffectiveBatchReach < double(smallest_swept)) {
      weak("--effective-batch " + std::to_string(*settings.effective_batch) + " is far outside the swept sizes (" +
           std::to_string(smallest_swept) + " to " + std::to_string(largest_swept) +
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
      weak("the learning rate " + fmt(lr, "%.4g") + " is far outside the rates the completed arms trained at (" +
           fmt(lr_lo, "%.4g") + " to " + fmt(lr_hi, "%.4g") + "): untested; try it on a short run first");
    }
  }
  if (workload.task == "classification" && workload.num_classes >= 2) {
    const double chance = 1.0 / double(workload.num_classes);
    // At the recommended size; for a size not swept, the best of the sweep.
    double accuracy = -1;
    if (at_choice) {
      if (at_choice->final_accuracy) accuracy = *at_choice->final_accuracy;
    } else {
      for (const auto& m : measured) if (m.final_accuracy) accuracy = std::max(accuracy, *m.final_accuracy);
    }
    if (accuracy >= 0 && accuracy <= kChanceSlack * chance) {
      weak("validation accuracy " + fmt(accuracy, "%.3f") + (at_choice ? " at the recommended size" : " at best") +
           " is at chance (1/" + std::to_string(workload.num_classes) + " = " + fmt(chance, "%.3f") +
           "): the model has not learned yet, and a target loss it reaches says little; give a larger --budget or "
           "check --lr", 2);
    }
  }
  if (sweep.incomplete) weak("the sweep is incomplete", 2);
  r.confidence = strikes == 0 ? "high" : strikes == 1 ? "medium" : "low";

  // Reasons a person can check against the numbers.
  const std::string target = sweep.target_loss ? fmt(*sweep.target_loss, "%.4g") : "-";
  if (settings.effective_batch) {
    const BatchPrediction* p_best = prediction_at(objective_choice);
    std::string s = "An effective batch of " + std::to_string(*settings.effective_batch) + " was asked for (--effective-batch)";
    if (accumulation > 1) {
      s += "; above the safe maximum " + std::to_string(r.max_fit_batch) + ", it runs as " + std::to_string(micro) +
           " x " + std::to_string(accumulation) +
           " accumulated micro-batches (the micro-batch near the best predicted throughput)";
    }
    s += ": predicted " + format_seconds(r.predicted_seconds_to_target) + " to the target loss " + target;
    if (objective_choice != batch && p_best && p_best->seconds_to_target) {
      s += ", against " + format_seconds(p_best->seconds_to_target) + " at batch " + std::to_string(objective_choice) +
           ", the " + settings.objective + " choice";
    }
    r.reasons.push_back(s + ".");
  }
  const std::string chosen_text = std::to_string(objective_choice);
  if (settings.objective == "time-to-target") {
    const Measured* m_choice = measured_at(objective_choice);
    const BatchPrediction* p_objective = prediction_at(objective_choice);
    if (basis == "predicted") {
      r.reasons.push_back("Batch " + chosen_text +
                          (near_best.size() > 1 ? " is predicted to reach the target validation loss "
                                                : " has the shortest predicted time to the target validation loss ") +
                          target + ": " + format_seconds(p_objective ? p_objective->seconds_to_target : std::nullopt) +
                          (m_choice && m_choice->seconds_to_target
                               ? " (" + format_seconds(m_choice->seconds_to_target) + " measured)"
                               : std::string()) +
                          ", of " + std::to_string(r.predictions.size()) + " sizes from " + std::to_string(smallest_swept) +
                          " to " + std::to_string(r.max_fit_batch) +
                          (near_best.size() > 1
                               ? "; sizes " + std::to_string(near_best.front()) + " to " + chosen_text +
                                     " are all within " + fmt(kFlatBand * 100, "%.0f") +
                                     "% of the fastest, and the largest of them takes the fewest steps"
                               : std::string()) +
                          ".");
    } else {
      r.reasons.push_back("Batch " + chosen_text + " reached the target validation loss " + target +
                          " soonest in the sweep (" +
                          format_seconds(m_choice ? m_choice->seconds_to_target : std::nullopt) +
                          "); too few sizes reached it in every seed to fit S(B).");
    }
  } else if (settings.objective == "throughput") {
    const Measured* m_choice = measured_at(objective_choice);
    if (near_best.size() > 1) {
      double tie_noise = 0;
      for (auto b : near_best) tie_noise = std::max(tie_noise, measured_at(b)->throughput_noise);
      r.reasons.push_back("Batch sizes " + sizes_text(near_best) + " are within measured noise (" +
                          fmt(tie_noise * 100, "%.1f") + "%) of the highest throughput, " +
                          fmt(*best_rate->samples_per_s, "%.0f") + " samples/s at batch " +
                          std::to_string(best_rate->batch) + "; the smallest of them, " + chosen_text + " (" +
                          format_number(m_choice->samples_per_s, "%.0f") +
                          " samples/s), is taken: the same throughput with less memory and more optimizer steps per "
                          "sample.");
    } else {
      r.reasons.push_back("Batch " + chosen_text + " had the highest measured throughput, " +
                          format_number(m_choice->samples_per_s, "%.0f") + " samples/s, beyond the measured noise (" +
                          fmt(m_choice->throughput_noise * 100, "%.1f") + "%) of every other size.");
    }
  } else if (settings.objective == "sample-efficiency") {
    const Measured* m_choice = measured_at(objective_choice);
    r.reasons.push_back("Batch " + chosen_text + " reached the target loss " + target + " with the fewest samples" +
                        (m_choice && m_choice->samples_to_target ? " (" + fmt(*m_choice->samples_to_target, "%.0f") + ")"
                                                                 : "") +
                        ".");
  } else {
    r.reasons.push_back("Batch " + chosen_text + " is the probe's safe maximum, the largest batch that fits with the margin.");
  }
  if (r.steps_fit) {
    std::string s = "Steps to target follow S(B) = " + fmt(r.steps_fit->min_steps, "%.0f") + " x (1 + " +
                    fmt(r.steps_fit->critical_batch, "%.0f") + "/B), so past B_crit ~ " +
                    fmt(r.steps_fit->critical_batch, "%.0f") + " a larger batch saves few steps";
    const Measured& lo = measured.front();
    const Measured& hi = measured.back();
    if (lo.samples_per_s && hi.samples_per_s) {
      s += ", while throughput goes from " + fmt(*lo.samples_per_s, "%.0f") + " samples/s at batch " +
           std::to_string(lo.batch) + " to " + fmt(*hi.samples_per_s, "%.0f") + " at " + std::to_string(hi.batch);
    }
    r.reasons.push_back(s + ".");
  }
  if (r.max_fit_batch != batch) {
    std::string s = "Batch " + std::to_string(r.max_fit_batch) + ", " + r.max_fit_label + ", ";
    if (r.max_fit_slowdown) {
      s += "would take " + fmt(*r.max_fit_slowdown, "%.2f") + "x as long (" +
           format_seconds(r.max_fit_seconds_to_target) + ")";
    } else {
      s += "has no time to target";
    }
    if (m_largest && !m_largest->seconds_to_target) s += "; in the sweep it did not reach the target within the budget";
    r.reasons.push_back(s + ".");
  }
  // Where the unconstrained optimum lies above what fits: say so, and why
  // accumulation does not help on one device. T_acc(B) = S(B) (B/m) t(m) and
  // S(B) B = S_min (B + B_crit) grows with B, so an effective batch B > m run
  // as B/m micro-batches of m always takes longer than m itself.
  if (settings.objective == "time-to-target" && r.steps_fit && r.step_time_fit && r.step_time_fit->saturation_batch) {
    const double unconstrained = std::sqrt(r.steps_fit->critical_batch * *r.step_time_fit->saturation_batch);
    if (unconstrained > 1.1 * double(r.max_fit_batch)) {
      r.reasons.push_back("Without the memory limit the optimum would be near sqrt(B_crit x B_sat) ~ " +
                          fmt(unconstrained, "%.0f") + ", above the safe maximum " + std::to_string(r.max_fit_batch) +
                          "; gradient accumulation would reach that effective batch but not sooner (each step costs as "
                          "many micro-batches), so on one device the safe maximum's side is the choice.");
    }
  }
  if (noise.simple_noise_scale) {
    r.reasons.push_back("The gradient noise scale B_simple ~ " + fmt(*noise.simple_noise_scale, "%.0f") + " (" +
                        format_number(noise.low, "%.0f") + " to " + format_number(noise.high, "%.0f") + ", after " +
                        std::to_string(noise.warm_in_steps) +
                        " warm-in steps) is a prior for B_crit, good to about an order of magnitude.");
  } else if (noise.status == "noise_dominates") {
    r.reasons.push_back("The gradient noise dominated the measured gradient (|G|^2 estimate not positive): B_simple is "
                        "very large at these weights, and small batches lose little.");
  }
  return r;
}

}  // namespace batchtune
