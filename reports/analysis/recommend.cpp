#include "reports/analysis/recommend.hpp"
#include "reports/analysis/recommend_stages.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "reports/util/error.hpp"
#include "reports/util/fit.hpp"
#include "reports/util/statistics.hpp"
#include "reports/analysis/timing_quality.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

using namespace recommend_stages;

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

// Stage 1: what the sweep measured at each batch size, ascending.
std::vector<Measured> measure(const SweepResult& sweep) {
  std::map<std::int64_t, std::vector<const SweepArm*>> by_batch;
  for (const auto& a : sweep.arms) by_batch[a.batch_size].push_back(&a);
  std::vector<Measured> out;
  for (const auto& [batch, arms] : by_batch) {
    Measured m;
    m.batch = batch;
    m.arms = int(arms.size());
    m.learning_rate = arms.front()->learning_rate;
    std::vector<double> step_clocks, rates, block_rates, single_rates, steps, samples, seconds, losses, accuracies;
    for (const SweepArm* a : arms) {
      if (a->status == ArmStatus::completed) ++m.completed;
      const std::vector<double> totals = step_total_seconds(*a);
      if (auto clock = step_clock_seconds(*a)) step_clocks.push_back(*clock);
      for (double t : block_means(totals)) if (t > 0) block_rates.push_back(double(batch) / t);
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
    m.step_s = mean_of(step_clocks);
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

}  // namespace

std::string recommend_stages::sizes_text(const std::vector<std::int64_t>& sizes) {
  std::string s;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    s += (i == 0 ? "" : i + 1 == sizes.size() ? " and " : ", ") + std::to_string(sizes[i]);
  }
  return s;
}

namespace {

// Why no arm completed, and what to change: one sentence each.
std::vector<std::string> no_completed_arm_reasons(const SweepResult& sweep) {
  std::map<std::string, int> count;
  const SweepArm* first_diverged = nullptr;
  const SweepArm* first_other = nullptr;
  for (const auto& a : sweep.arms) {
    ++count[to_string(a.status)];
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
         " at learning rate " + format_number(example->learning_rate, "%.4g") + ": " +
         (example->message.empty() ? to_string(example->status) : example->message);
  }
  reasons.push_back(s + ".");
  if (first_diverged) {
    reasons.push_back("Lower the learning rate (--lr; the sweep ran " + format_number(sweep.base_learning_rate, "%.4g") +
                      " at batch " + std::to_string(sweep.base_batch) + ", scaled " + to_string(sweep.lr_scaling) +
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
                                           Objective objective) {
  std::vector<std::string> reasons;
  if (!sweep.target_loss) {
    reasons.push_back("There is no target loss (no completed arm was evaluated), so no batch size has a time to "
                      "target for " + to_string(objective) + ".");
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
                  format_number(*sweep.target_loss, "%.4g") + " in every seed within the budget (" + std::to_string(reached) +
                  " of " + std::to_string(arms) + " arms reached it";
  if (lowest) {
    s += "; the lowest final validation loss was " + format_number(*lowest->final_loss, "%.4g") + " at batch " +
         std::to_string(lowest->batch);
  }
  reasons.push_back(s + ").");
  reasons.push_back(std::string("Give a larger --budget, ") +
                    (sweep.target_origin == TargetOrigin::given ? "a higher --target-loss (or none: the default is a loss "
                                                              "half the arms reach), "
                                                            : "") +
                    "or check the learning rate (--lr, --lr-scaling): a rate too high or too low keeps the loss up.");
  return reasons;
}

}  // namespace

double scaled_learning_rate(LrScaling rule, double base_lr, std::int64_t base_batch, std::int64_t batch) {
  const double ratio = double(batch) / double(base_batch);
  switch (rule) {
    case LrScaling::linear: return base_lr * ratio;
    case LrScaling::sqrt: return base_lr * std::sqrt(ratio);
    case LrScaling::none: break;
  }
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
  auto line = fit_relative(batch_seconds, [](double b) { return b; });
  if (!line) return std::nullopt;
  if (line->intercept < 0) {
    // A negative fixed cost is a few sizes' noise, not the machine (a step
    // cannot take less than nothing): the line through the origin instead,
    // with the same relative weights.
    double sxy = 0, sxx = 0, sw = 0, swy = 0;
    for (const auto& [b, t] : batch_seconds) {
      if (!(b > 0) || !std::isfinite(t) || t <= 0) continue;
      const double w = 1.0 / (t * t);
      sxy += w * b * t;
      sxx += w * b * b;
      sw += w;
      swy += w * t;
    }
    line->slope = sxy / sxx;
    line->intercept = 0;
    double ss_res = 0, ss_tot = 0;
    for (const auto& [b, t] : batch_seconds) {
      if (!(b > 0) || !std::isfinite(t) || t <= 0) continue;
      const double w = 1.0 / (t * t);
      ss_res += w * (t - line->slope * b) * (t - line->slope * b);
      ss_tot += w * (t - swy / sw) * (t - swy / sw);
    }
    line->r_squared = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0;
  }
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

const BatchPrediction* recommend_stages::prediction_at(const std::vector<BatchPrediction>& predictions,
                                                      std::int64_t batch) {
  for (const auto& p : predictions) if (p.batch_size == batch) return &p;
  return nullptr;
}

namespace {

Range range_of(const std::vector<Measured>& measured, const ProbeResult* probe) {
  Range range;
  range.multiple = probe ? std::max<std::int64_t>(1, probe->multiple_of) : 1;
  range.largest_swept = measured.back().batch;
  range.smallest_swept = measured.front().batch;
  range.smallest_possible = probe ? std::max<std::int64_t>(1, probe->min_batch) : 1;
  range.max_fit = probe ? probe->safe_max_batch : range.largest_swept;
  return range;
}

// How the largest size is named when it is not the probe's safe maximum.
std::optional<std::string> max_fit_label(const ProbeResult* probe) {
  if (probe && probe->capped && !probe->cap_source.empty() && probe->cap_source != "--max-batch") {
    return "the largest size the probe verified (capped by " + probe->cap_source + "; memory holds more)";
  }
  if (!probe) return "the largest swept size (no probe)";
  return std::nullopt;
}

// Stage 2: S(B) through the sizes that reached the target, t(B) through the
// mean step times (the step clock).
Fits fit(const std::vector<Measured>& measured) {
  Fits f;
  for (const auto& m : measured) {
    if (m.steps_to_target) f.steps_points.emplace_back(double(m.batch), *m.steps_to_target);
    if (m.step_s) f.time_points.emplace_back(double(m.batch), *m.step_s);
  }
  f.steps = fit_steps_to_target(f.steps_points);
  f.step_time = fit_step_time(f.time_points);
  return f;
}

// Stage 3: T(B) = S(B) t(B) at one size, with what the sweep measured there.
BatchPrediction predict_at(const Evidence& e, std::int64_t batch) {
  BatchPrediction p;
  p.batch_size = batch;
  for (const auto& m : e.measured) {
    if (m.batch == batch) {
      p.swept = true;
      p.measured_seconds_to_target = m.seconds_to_target;
    }
  }
  if (!e.fits.time_points.empty()) {
    p.step_s = interpolate_step_time(e.fits.time_points, double(batch));
    p.samples_per_s = double(batch) / *p.step_s;
  }
  if (e.fits.steps) {
    p.steps_to_target = e.fits.steps->min_steps * (1.0 + e.fits.steps->critical_batch / double(batch));
    if (p.step_s) p.seconds_to_target = *p.steps_to_target * *p.step_s;
  }
  return p;
}

// Predictions over a grid of feasible sizes: the swept ones, powers of two
// and their midpoints (x1.5), and the safe maximum; ascending.
std::vector<BatchPrediction> predict(const Evidence& e) {
  std::set<std::int64_t> grid;
  for (const auto& m : e.measured) grid.insert(m.batch);
  for (double b = 1; b <= double(e.range.max_fit); b *= 2) {
    for (double f : {1.0, 1.5}) {
      const std::int64_t c = round_to_multiple(b * f, e.range.multiple);
      if (c >= e.range.smallest_swept && c <= e.range.max_fit) grid.insert(c);
    }
  }
  grid.insert(e.range.max_fit);
  std::vector<BatchPrediction> predictions;
  for (std::int64_t b : grid) predictions.push_back(predict_at(e, b));
  return predictions;
}

// No answer without evidence: the objective's choice needs completed arms
// and, for the objectives about the target, a size that reached it in every
// seed. Empty when there is the evidence; else why not, and what to change.
std::vector<std::string> missing_evidence(const Evidence& e) {
  int completed = 0;
  bool any_at_target = false, any_rate = false;
  for (const auto& m : e.measured) {
    completed += m.completed;
    any_at_target = any_at_target || m.seconds_to_target.has_value();
    any_rate = any_rate || (m.completed > 0 && m.samples_per_s);
  }
  std::vector<std::string> reasons;
  if (completed == 0) {
    reasons = no_completed_arm_reasons(e.sweep);
  } else if (e.about_target() && !any_at_target) {
    reasons = no_target_reasons(e.sweep, e.measured, e.settings.objective);
  } else if (e.settings.objective == Objective::throughput && !any_rate) {
    reasons.push_back("No completed arm has a timed step (samples/s), so no batch size has a throughput; give "
                      "a --budget of more steps per arm.");
  }
  return reasons;
}

// Stage 4: the objective's choice among the sizes `ok` allows.
template <class Ok>
Choice choose_among(const Evidence& e, const std::vector<BatchPrediction>& predictions, const Ok& ok) {
  Choice c;
  c.batch = e.range.smallest_swept;
  const Objective objective = e.settings.objective;
  if (objective == Objective::time_to_target) {
    if (e.fits.steps && !e.fits.time_points.empty()) {
      // T(B) is flat near its minimum (between B_sat and B_crit), and the
      // predictions carry more noise than a few percent: among the sizes
      // within kFlatBand of the fastest, take the largest (fewer optimizer
      // steps for the same time).
      double best = std::numeric_limits<double>::infinity();
      for (const auto& p : predictions) {
        if (p.seconds_to_target && ok(p.batch_size)) best = std::min(best, *p.seconds_to_target);
      }
      for (const auto& p : predictions) {
        if (!ok(p.batch_size)) continue;
        if (p.seconds_to_target && *p.seconds_to_target == best) c.fastest = p.batch_size;
        if (p.seconds_to_target && *p.seconds_to_target <= best * (1.0 + kFlatBand)) {
          c.near_best.push_back(p.batch_size);
          c.batch = p.batch_size;  // predictions are sorted by batch size
        }
      }
      c.basis = "predicted";
    } else {
      double best = std::numeric_limits<double>::infinity();
      for (const auto& m : e.measured) {
        if (m.seconds_to_target && *m.seconds_to_target < best && ok(m.batch)) {
          best = *m.seconds_to_target;
          c.batch = m.batch;
        }
      }
      c.basis = "measured";
    }
  } else if (objective == Objective::throughput) {
    // Throughputs within measured noise of the highest are a tie: no pick on
    // a 0.15% difference. Among the tied sizes the smallest is taken: the
    // same samples/s with less memory and more optimizer steps per sample.
    for (const auto& m : e.measured) {
      if (!ok(m.batch)) continue;
      if (m.completed > 0 && m.samples_per_s && (!c.best_rate || *m.samples_per_s > *c.best_rate->samples_per_s)) {
        c.best_rate = &m;
      }
    }
    for (const auto& m : e.measured) {
      if (m.completed == 0 || !m.samples_per_s || !ok(m.batch)) continue;
      const double shortfall = 1.0 - *m.samples_per_s / *c.best_rate->samples_per_s;
      if (shortfall <= std::max(m.throughput_noise, c.best_rate->throughput_noise)) c.near_best.push_back(m.batch);
    }
    c.batch = c.near_best.front();
    c.basis = "measured";
  } else if (objective == Objective::sample_efficiency) {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& m : e.measured) {
      if (m.samples_to_target && *m.samples_to_target < best && ok(m.batch)) {
        best = *m.samples_to_target;
        c.batch = m.batch;
      }
    }
    c.basis = "measured";
  } else {
    c.batch = e.range.max_fit;
    if (!ok(c.batch)) {
      // The largest size the constraint allows, among those that completed.
      for (const auto& m : e.measured) {
        if (m.completed > 0 && ok(m.batch)) c.batch = m.batch;
      }
    }
    c.basis = "max-fit";
  }
  return c;
}

// The generalisation constraint: swept sizes whose final validation loss
// (mean over the completed seeds) is more than the tolerance above the best
// are refused; a size between swept ones passes only where both around it
// do, one past the largest swept only where that one does.
Choice choose(const Evidence& e, const std::vector<BatchPrediction>& predictions) {
  const auto tolerance = e.settings.max_validation_loss_excess;
  if (!tolerance) return choose_among(e, predictions, [](std::int64_t) { return true; });
  const Measured* best = nullptr;
  for (const auto& m : e.measured) {
    if (m.final_loss && std::isfinite(*m.final_loss) && (!best || *m.final_loss < *best->final_loss)) best = &m;
  }
  std::vector<std::int64_t> refused;
  for (const auto& m : e.measured) {
    // Relative to the best's size, so a loss below zero (a model's own) reads the same way.
    if (best && m.final_loss && *m.final_loss - *best->final_loss > *tolerance * std::abs(*best->final_loss)) {
      refused.push_back(m.batch);
    }
  }
  auto swept_ok = [&](std::int64_t b) { return std::find(refused.begin(), refused.end(), b) == refused.end(); };
  auto ok = [&](std::int64_t b) {
    std::optional<std::int64_t> below, above;
    for (const auto& m : e.measured) {
      if (m.batch == b) return swept_ok(b);
      if (m.batch < b) below = m.batch;
      if (m.batch > b && !above) above = m.batch;
    }
    return (!below || swept_ok(*below)) && (!above || swept_ok(*above));
  };
  Choice c = choose_among(e, predictions, ok);
  if (!ok(c.batch) && best) c.batch = best->batch;  // no allowed size had the objective's evidence
  c.refused = refused;
  if (best) {
    c.best_validation_batch = best->batch;
    c.best_validation_loss = *best->final_loss;
  }
  if (!refused.empty()) {
    const Choice free = choose_among(e, predictions, [](std::int64_t) { return true; });
    if (free.batch != c.batch) c.unconstrained = free.batch;
  }
  return c;
}

// An effective batch the user asks for (--effective-batch: a paper's global
// batch, the batch of a multi-device run) replaces the objective's choice.
// Above the safe maximum it runs as micro-batches of the size with the best
// predicted throughput, accumulated; no objective picks such a batch itself
// (see the reason about the unconstrained optimum). A size within the safe
// maximum that the grid lacks gets its prediction added.
Plan plan(const Evidence& e, const Choice& choice, std::vector<BatchPrediction>& predictions) {
  Plan p;
  p.batch = p.micro = choice.batch;
  if (!e.settings.effective_batch) return p;
  const std::int64_t wanted = *e.settings.effective_batch;
  if (wanted <= e.range.max_fit) {
    p.batch = p.micro = wanted;
    if (!prediction_at(predictions, wanted)) {
      predictions.push_back(predict_at(e, wanted));
      std::sort(predictions.begin(), predictions.end(),
                [](const BatchPrediction& a, const BatchPrediction& b) { return a.batch_size < b.batch_size; });
    }
    return p;
  }
  p.micro = e.range.max_fit;
  double best = -1;
  for (const auto& prediction : predictions) {
    if (prediction.samples_per_s && *prediction.samples_per_s > best) {
      best = *prediction.samples_per_s;
      p.micro = prediction.batch_size;
    }
  }
  p.accumulation = (wanted + p.micro - 1) / p.micro;
  p.micro = (wanted + p.accumulation - 1) / p.accumulation;
  p.batch = p.micro * p.accumulation;
  if (e.fits.steps && !e.fits.time_points.empty()) {
    p.accumulated_seconds = e.fits.steps->min_steps * (1.0 + e.fits.steps->critical_batch / double(p.batch)) *
                            double(p.accumulation) * interpolate_step_time(e.fits.time_points, double(p.micro));
  }
  return p;
}

// The learning rate: the rule the sweep used and validated.
void set_learning_rate(Recommendation& r, const Evidence& e, std::int64_t batch) {
  const SweepResult& sweep = e.sweep;
  r.learning_rate = scaled_learning_rate(sweep.lr_scaling, sweep.base_learning_rate, sweep.base_batch, batch);
  const std::string base = "batch " + std::to_string(sweep.base_batch) + " at " + format_number(sweep.base_learning_rate, "%g");
  if (sweep.lr_scaling == LrScaling::linear) {
    r.learning_rate_rule = "linear scaling from " + base + " (" + e.workload.optimizer + "), the rule the sweep ran";
  } else if (sweep.lr_scaling == LrScaling::sqrt) {
    r.learning_rate_rule =
        "square-root scaling from " + base + " (" + e.workload.optimizer + "), the rule the sweep ran";
  } else {
    r.learning_rate_rule = "the base learning rate, unscaled (--lr-scaling none), as the sweep ran";
  }
  r.learning_rate_rule +=
      e.measured_at(batch) ? "; this size was swept at this rate" : "; this size was not swept: interpolated";
}

// Time to target at the recommended size, and how much longer the largest takes.
void set_times(Recommendation& r, const Evidence& e, const Plan& p) {
  const Measured* at_choice = e.measured_at(p.batch);
  if (const BatchPrediction* p_choice = prediction_at(r.predictions, p.batch)) {
    r.predicted_seconds_to_target = p_choice->seconds_to_target;
  }
  if (p.accumulation > 1) r.predicted_seconds_to_target = p.accumulated_seconds;
  if (at_choice) r.measured_seconds_to_target = at_choice->seconds_to_target;
  const auto t_choice = r.predicted_seconds_to_target ? r.predicted_seconds_to_target : r.measured_seconds_to_target;
  if (t_choice && r.max_fit_seconds_to_target && *t_choice > 0) {
    r.max_fit_slowdown = *r.max_fit_seconds_to_target / *t_choice;
  }
}

}  // namespace

// Data-parallel: the recommended global batch as each rank carries it (the
// sweep's sizes are global batches): micro_batch_size becomes a rank's.
void split_over_ranks(Recommendation& r, const DataParallelInfo& d) {
  const std::int64_t world = d.world_size;
  const std::int64_t step_batch = r.micro_batch_size.value_or(*r.batch_size);  // all ranks, one step
  r.data_parallel_ranks = static_cast<int>(world);
  r.micro_batch_size = (step_batch + world - 1) / world;
  std::string split = "Data-parallel over " + std::to_string(world) + " ranks (" + d.backend + "): batch " +
                      std::to_string(*r.batch_size) + " is " + std::to_string(*r.micro_batch_size) + " a rank x " +
                      std::to_string(world) + " ranks";
  if (r.accumulation_steps.value_or(1) > 1) split += " x " + std::to_string(*r.accumulation_steps) + " accumulation steps";
  if (step_batch % world != 0) {
    split += " (uneven: " + std::to_string(step_batch % world) + " of the ranks carry " +
             std::to_string(*r.micro_batch_size) + " and the others " + std::to_string(step_batch / world) +
             "; micro_batch_size is the larger)";
  }
  r.reasons.push_back(split + "; its times were measured on this world size.");
}


// measure -> fit -> predict -> (enough evidence?) -> choose (and plan an
// --effective-batch) -> learning rate and times -> confidence -> reasons.
Recommendation recommend(const SweepResult& sweep, const ProbeResult* probe, const WorkloadInfo& workload,
                         const NoiseScale& noise, const RecommendSettings& settings) {
  Recommendation r;
  r.objective = settings.objective;
  r.target_loss = sweep.target_loss;
  r.noise_scale = noise;
  Evidence e{sweep, workload, settings, measure(sweep), {}, {}};
  if (e.measured.empty()) throw InputError("the sweep has no arms: nothing to recommend from");
  e.range = range_of(e.measured, probe);
  r.max_fit_batch = e.range.max_fit;
  if (auto label = max_fit_label(probe)) r.max_fit_label = *label;

  e.fits = fit(e.measured);
  r.steps_fit = e.fits.steps;
  r.step_time_fit = e.fits.step_time;

  r.predictions = predict(e);
  if (const BatchPrediction* p = prediction_at(r.predictions, r.max_fit_batch)) {
    r.max_fit_seconds_to_target = p->seconds_to_target;
  }
  const Measured* m_largest = e.measured_at(r.max_fit_batch);
  if (!r.max_fit_seconds_to_target && m_largest) r.max_fit_seconds_to_target = m_largest->seconds_to_target;

  if (std::vector<std::string> why_not = missing_evidence(e); !why_not.empty()) {
    r.status = RecommendationStatus::none;
    r.confidence = Confidence::none;
    r.reasons = std::move(why_not);
    if (sweep.incomplete) r.reasons.push_back("The sweep is incomplete: " + sweep.incomplete_reason + ".");
    return r;
  }

  const Choice choice = choose(e, r.predictions);
  if (settings.max_validation_loss_excess) {
    r.validation_loss_tolerance = *settings.max_validation_loss_excess;
    r.refused_batch_sizes = choice.refused;
  }
  const Plan p = plan(e, choice, r.predictions);
  r.batch_size = p.batch;
  r.micro_batch_size = p.micro;
  r.accumulation_steps = p.accumulation;
  set_learning_rate(r, e, p.batch);
  set_times(r, e, p);
  rate_confidence(r, e, choice);
  r.reasons = reasons(r, e, choice, p, noise);
  if (const std::string timing = describe(timing_quality(sweep)); !timing.empty()) r.reasons.push_back(timing);
  if (sweep.data_parallel && sweep.data_parallel->world_size > 1) split_over_ranks(r, *sweep.data_parallel);
  return r;
}

}  // namespace batchtune
