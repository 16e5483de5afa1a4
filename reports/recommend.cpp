#include "reports/recommend.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "reports/error.hpp"
#include "reports/render_text.hpp"
#include "reports/statistics.hpp"

namespace batchtune {
namespace {

struct Line {
  double intercept = 0;
  double slope = 0;
  double r_squared = 0;
  int points = 0;
};

// Weighted least squares y = a + b x.
std::optional<Line> fit_line(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w) {
  double sw = 0, sx = 0, sy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sw += w[i];
    sx += w[i] * x[i];
    sy += w[i] * y[i];
  }
  if (sw <= 0) return std::nullopt;
  const double mx = sx / sw, my = sy / sw;
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += w[i] * (x[i] - mx) * (x[i] - mx);
    sxy += w[i] * (x[i] - mx) * (y[i] - my);
    syy += w[i] * (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0) return std::nullopt;
  Line l;
  l.slope = sxy / sxx;
  l.intercept = my - l.slope * mx;
  double ss_res = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = y[i] - (l.intercept + l.slope * x[i]);
    ss_res += w[i] * e * e;
  }
  l.r_squared = syy > 0 ? 1.0 - ss_res / syy : 1.0;
  return l;
}

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

// Where an arm's validation loss first crossed the target, interpolated
// linearly between the evaluation before and the one at or below it.
// Evaluations are coarse (a fifth of the budget by default); interpolation
// keeps S(B) from being quantised to them.
struct Crossing {
  double steps = 0;
  double samples = 0;
  double seconds = 0;
};

std::optional<Crossing> crossing(const SweepArm& arm, double target) {
  double prev_loss = std::numeric_limits<double>::quiet_NaN();
  Crossing prev{0, 0, 0};
  for (const auto& e : arm.evaluations) {
    if (!std::isfinite(e.loss)) return std::nullopt;
    if (e.loss <= target) {
      if (!std::isfinite(prev_loss) || prev_loss <= e.loss) return Crossing{double(e.step), double(e.samples), e.seconds};
      const double f = (prev_loss - target) / (prev_loss - e.loss);
      return Crossing{prev.steps + f * (double(e.step) - prev.steps), prev.samples + f * (double(e.samples) - prev.samples),
                      prev.seconds + f * (e.seconds - prev.seconds)};
    }
    prev_loss = e.loss;
    prev = Crossing{double(e.step), double(e.samples), e.seconds};
  }
  return std::nullopt;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? std::numeric_limits<double>::quiet_NaN() : s / double(v.size());
}

// What the sweep measured at one batch size, across seeds.
struct Measured {
  std::int64_t batch = 0;
  int arms = 0;
  int completed = 0;
  std::optional<double> step_s;             // median wall time per step (compute + data)
  std::optional<double> samples_per_s;
  std::optional<double> steps_to_target;    // interpolated, mean over seeds, when every seed crossed
  std::optional<double> samples_to_target;
  std::optional<double> seconds_to_target;
  std::optional<double> seconds_spread;     // relative: stddev / mean across seeds
  std::optional<double> final_loss;
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
    std::vector<double> step_medians, rates, steps, samples, seconds, losses;
    for (const SweepArm* a : arms) {
      if (a->status == ArmStatus::completed) ++m.completed;
      std::vector<double> wall;
      for (std::size_t i = 0; i < a->step_seconds.size(); ++i) {
        wall.push_back(a->step_seconds[i] + (i < a->data_seconds.size() ? a->data_seconds[i] : 0.0));
      }
      if (auto med = median_of(wall)) step_medians.push_back(*med);
      if (a->samples_per_s) rates.push_back(*a->samples_per_s);
      if (a->final_validation_loss && a->status == ArmStatus::completed) losses.push_back(*a->final_validation_loss);
      if (sweep.target_loss) {
        if (auto c = crossing(*a, *sweep.target_loss)) {
          steps.push_back(c->steps);
          samples.push_back(c->samples);
          seconds.push_back(c->seconds);
        }
      }
    }
    if (auto med = median_of(step_medians)) m.step_s = *med;
    if (!rates.empty()) m.samples_per_s = mean(rates);
    if (!losses.empty()) m.final_loss = mean(losses);
    if (int(steps.size()) == m.arms) {
      m.steps_to_target = mean(steps);
      m.samples_to_target = mean(samples);
      m.seconds_to_target = mean(seconds);
      if (seconds.size() > 1) m.seconds_spread = spread_of(seconds).stddev / *m.seconds_to_target;
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

double interpolate_step_time(const std::vector<std::pair<double, double>>& pts, double batch) {
  if (pts.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (pts.size() == 1) return pts.front().second * batch / pts.front().first;
  std::size_t i = 1;
  while (i + 1 < pts.size() && pts[i].first < batch) ++i;
  const double x0 = std::log(pts[i - 1].first), x1 = std::log(pts[i].first);
  const double y0 = std::log(pts[i - 1].second), y1 = std::log(pts[i].second);
  const double slope = x1 > x0 ? (y1 - y0) / (x1 - x0) : 1.0;
  return std::exp(y0 + slope * (std::log(batch) - x0));
}

// Predicted times this close to the fastest count as a tie.
constexpr double kFlatBand = 0.05;

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
  r.max_fit_batch = probe ? probe->safe_max_batch : largest_swept;

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

  // The choice.
  std::int64_t chosen = smallest_swept;
  std::vector<std::int64_t> near_best;  // time-to-target: sizes within kFlatBand of the fastest prediction
  std::int64_t near_best_from = 0;
  std::string basis;
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
        if (p.seconds_to_target && *p.seconds_to_target <= best * (1.0 + kFlatBand)) {
          if (near_best.empty()) near_best_from = p.batch_size;
          near_best.push_back(p.batch_size);
          chosen = p.batch_size;  // predictions are sorted by batch size
        }
      }
      basis = "predicted";
    } else {
      double best = std::numeric_limits<double>::infinity();
      bool any = false;
      for (const auto& m : measured) {
        if (m.seconds_to_target && *m.seconds_to_target < best) {
          best = *m.seconds_to_target;
          chosen = m.batch;
          any = true;
        }
      }
      if (any) {
        basis = "measured";
      } else {
        double best_loss = std::numeric_limits<double>::infinity();
        for (const auto& m : measured) {
          if (m.final_loss && *m.final_loss < best_loss) {
            best_loss = *m.final_loss;
            chosen = m.batch;
          }
        }
        basis = "lowest-loss";
      }
    }
  } else if (settings.objective == "throughput") {
    double best = -1;
    for (const auto& m : measured) {
      if (m.completed > 0 && m.samples_per_s && *m.samples_per_s > best) {
        best = *m.samples_per_s;
        chosen = m.batch;
      }
    }
    basis = "measured";
  } else if (settings.objective == "sample-efficiency") {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& m : measured) {
      if (m.samples_to_target && *m.samples_to_target < best) {
        best = *m.samples_to_target;
        chosen = m.batch;
      }
    }
    basis = std::isfinite(best) ? "measured" : "smallest";
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
  r.batch_size = chosen;
  r.micro_batch_size = chosen;
  r.accumulation_steps = 1;
  std::optional<double> accumulated_seconds;
  if (settings.effective_batch) {
    const std::int64_t wanted = *settings.effective_batch;
    if (wanted <= r.max_fit_batch) {
      r.batch_size = r.micro_batch_size = wanted;
      if (!prediction_at(wanted)) {
        r.predictions.push_back(predict(wanted));
        std::sort(r.predictions.begin(), r.predictions.end(),
                  [](const BatchPrediction& a, const BatchPrediction& b) { return a.batch_size < b.batch_size; });
      }
    } else {
      std::int64_t micro = r.max_fit_batch;
      double best_rate = -1;
      for (const auto& p : r.predictions) {
        if (p.samples_per_s && *p.samples_per_s > best_rate) {
          best_rate = *p.samples_per_s;
          micro = p.batch_size;
        }
      }
      r.accumulation_steps = (wanted + micro - 1) / micro;
      r.micro_batch_size = (wanted + r.accumulation_steps - 1) / r.accumulation_steps;
      r.batch_size = r.micro_batch_size * r.accumulation_steps;
      if (r.steps_fit && !time_points.empty()) {
        accumulated_seconds = r.steps_fit->min_steps * (1.0 + r.steps_fit->critical_batch / double(r.batch_size)) *
                              double(r.accumulation_steps) * interpolate_step_time(time_points, double(r.micro_batch_size));
      }
    }
  }

  // Learning rate: the rule the sweep used and validated.
  r.learning_rate = scaled_learning_rate(sweep.lr_scaling, sweep.base_learning_rate, sweep.base_batch, r.batch_size);
  const Measured* at_choice = measured_at(r.batch_size);
  const std::string base = "batch " + std::to_string(sweep.base_batch) + " at " + fmt(sweep.base_learning_rate, "%g");
  if (sweep.lr_scaling == "linear") {
    r.learning_rate_rule = "linear scaling from " + base + " (" + workload.optimizer + "), the rule the sweep ran";
  } else if (sweep.lr_scaling == "sqrt") {
    r.learning_rate_rule = "square-root scaling from " + base + " (" + workload.optimizer + "), the rule the sweep ran";
  } else {
    r.learning_rate_rule = "the base learning rate, unscaled (--lr-scaling none), as the sweep ran";
  }
  r.learning_rate_rule += at_choice ? "; this size was swept at this rate" : "; this size was not swept: interpolated";

  const BatchPrediction* p_choice = prediction_at(r.batch_size);
  const BatchPrediction* p_largest = prediction_at(r.max_fit_batch);
  if (p_choice) r.predicted_seconds_to_target = p_choice->seconds_to_target;
  if (r.accumulation_steps > 1) r.predicted_seconds_to_target = accumulated_seconds;
  if (at_choice) r.measured_seconds_to_target = at_choice->seconds_to_target;
  if (p_largest) r.max_fit_seconds_to_target = p_largest->seconds_to_target;
  const Measured* m_largest = measured_at(r.max_fit_batch);
  if (!r.max_fit_seconds_to_target && m_largest) r.max_fit_seconds_to_target = m_largest->seconds_to_target;
  const auto t_choice = r.predicted_seconds_to_target ? r.predicted_seconds_to_target : r.measured_seconds_to_target;
  if (t_choice && r.max_fit_seconds_to_target && *t_choice > 0) {
    r.max_fit_slowdown = *r.max_fit_seconds_to_target / *t_choice;
  }

  // Confidence: seed spread and fit quality.
  int strikes = 0;
  if (sweep.seeds < 2) {
    r.confidence_notes.push_back("one seed per size: run --seeds 3 to measure the spread");
    ++strikes;
  } else if (at_choice && at_choice->seconds_spread) {
    const double spread = *at_choice->seconds_spread;
    r.confidence_notes.push_back("time to target varies " + fmt(spread * 100, "%.1f") + "% across " +
                                 std::to_string(sweep.seeds) + " seeds at the recommended size");
    if (spread > 0.15) ++strikes;
  }
  if (settings.objective == "time-to-target" || settings.objective == "sample-efficiency") {
    if (!r.steps_fit) {
      r.confidence_notes.push_back(std::to_string(steps_points.size()) +
                                   " size(s) reached the target: too few for the S(B) fit");
      strikes += 2;
    } else {
      r.confidence_notes.push_back("S(B) fit R^2 " + fmt(r.steps_fit->r_squared, "%.2f") + " over " +
                                   std::to_string(r.steps_fit->points) + " sizes");
      if (r.steps_fit->r_squared < 0.8 || r.steps_fit->points < 3) ++strikes;
    }
  }
  if (!at_choice) r.confidence_notes.push_back("the recommended size was not swept: its figures are interpolated");
  if (sweep.incomplete) {
    r.confidence_notes.push_back("the sweep is incomplete");
    strikes += 2;
  }
  r.confidence = strikes == 0 ? "high" : strikes == 1 ? "medium" : "low";

  // Reasons a person can check against the numbers.
  const std::string target = sweep.target_loss ? fmt(*sweep.target_loss, "%.4g") : "-";
  if (settings.effective_batch) {
    const BatchPrediction* p_best = prediction_at(objective_choice);
    std::string s = "An effective batch of " + std::to_string(*settings.effective_batch) + " was asked for (--effective-batch)";
    if (r.accumulation_steps > 1) {
      s += "; above the safe maximum " + std::to_string(r.max_fit_batch) + ", it runs as " +
           std::to_string(r.micro_batch_size) + " x " + std::to_string(r.accumulation_steps) +
           " accumulated micro-batches (the micro-batch near the best predicted throughput)";
    }
    s += ": predicted " + format_seconds(r.predicted_seconds_to_target) + " to the target loss " + target;
    if (objective_choice != r.batch_size && p_best && p_best->seconds_to_target) {
      s += ", against " + format_seconds(p_best->seconds_to_target) + " at batch " + std::to_string(objective_choice) +
           ", the " + settings.objective + " choice";
    }
    r.reasons.push_back(s + ".");
  }
  if (settings.objective == "time-to-target") {
    if (basis == "predicted") {
      r.reasons.push_back("Batch " + std::to_string(r.batch_size) +
                          (near_best.size() > 1 ? " is predicted to reach the target validation loss "
                                                : " has the shortest predicted time to the target validation loss ") +
                          target + ": " + format_seconds(r.predicted_seconds_to_target) +
                          (r.measured_seconds_to_target ? " (" + format_seconds(r.measured_seconds_to_target) + " measured)" : "") +
                          ", of " + std::to_string(r.predictions.size()) + " sizes from " + std::to_string(smallest_swept) +
                          " to " + std::to_string(r.max_fit_batch) +
                          (near_best.size() > 1
                               ? "; sizes " + std::to_string(near_best_from) + " to " + std::to_string(r.batch_size) +
                                     " are all within " + fmt(kFlatBand * 100, "%.0f") +
                                     "% of the fastest, and the largest of them takes the fewest steps"
                               : std::string()) +
                          ".");
    } else if (basis == "measured") {
      r.reasons.push_back("Batch " + std::to_string(r.batch_size) + " reached the target validation loss " + target +
                          " soonest in the sweep (" + format_seconds(r.measured_seconds_to_target) +
                          "); too few sizes reached it to fit S(B).");
    } else {
      r.reasons.push_back("No batch size reached the target loss within the budget; batch " + std::to_string(r.batch_size) +
                          " ended with the lowest validation loss. Give a larger --budget.");
    }
  } else if (settings.objective == "throughput") {
    r.reasons.push_back("Batch " + std::to_string(r.batch_size) + " had the highest measured throughput, " +
                        format_number(at_choice ? at_choice->samples_per_s : std::nullopt, "%.0f") + " samples/s.");
  } else if (settings.objective == "sample-efficiency") {
    r.reasons.push_back("Batch " + std::to_string(r.batch_size) + " reached the target loss " + target + " with the fewest samples" +
                        (at_choice && at_choice->samples_to_target ? " (" + fmt(*at_choice->samples_to_target, "%.0f") + ")" : "") +
                        ".");
  } else {
    r.reasons.push_back("Batch " + std::to_string(r.batch_size) + " is the probe's safe maximum, the largest batch that fits with the margin.");
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
  if (r.max_fit_batch != r.batch_size) {
    std::string s = "The largest batch that fits, " + std::to_string(r.max_fit_batch) + " (the probe's safe maximum), ";
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
