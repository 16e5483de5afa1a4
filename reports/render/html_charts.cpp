#include "reports/render/html_charts.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <string>
#include <utility>

#include "reports/render/svg_plot.hpp"
#include "reports/util/units.hpp"

namespace batchtune::html {
namespace {

using svg::Axis;
using svg::Extent;
using svg::LegendEntry;
using svg::Plot;
using svg::Point;
using svg::Scale;
namespace colour = svg::colour;

// The recommended batch size: the same orange band, labelled, in every chart.
void highlight_recommended(Plot& plot, std::int64_t batch_size) {
  const std::string size = std::to_string(batch_size);
  if (plot.highlight_x(static_cast<double>(batch_size),
                       {"recommended-band", colour::orange, "#9a6a00", "recommended " + size})) {
    plot.legend({LegendEntry::Symbol::band, colour::orange, "recommended (" + size + ")"});
  }
}

}  // namespace

std::optional<std::int64_t> recommended_batch(const Report& r) {
  if (r.recommendation && r.recommendation->recommends() && *r.recommendation->batch_size > 0) {
    return r.recommendation->batch_size;
  }
  return std::nullopt;
}

std::vector<BatchSummary> summaries_of(const SweepResult& sweep) {
  std::vector<BatchSummary> summaries = sweep.summaries;
  if (summaries.empty() && is_throughput_only(sweep)) {
    // A throughput-only report: its scan's points, one mean step each (the step clock).
    for (const auto& p : sweep.throughput_scan) {
      if (p.samples_per_s <= 0) continue;
      BatchSummary s;
      s.batch_size = p.batch_size;
      s.peak_bytes = p.peak_bytes;
      s.samples_per_s = spread_of({p.samples_per_s});
      summaries.push_back(s);
    }
  } else if (summaries.empty()) {
    std::map<std::int64_t, std::vector<const SweepArm*>> by_batch;
    for (const auto& arm : sweep.arms) by_batch[arm.batch_size].push_back(&arm);
    for (const auto& [batch_size, arms] : by_batch) {
      BatchSummary s;
      s.batch_size = batch_size;
      s.arms = static_cast<int>(arms.size());
      std::vector<double> rates;
      for (const auto* arm : arms) {
        s.learning_rate = arm->learning_rate;
        s.completed += arm->status == ArmStatus::completed ? 1 : 0;
        s.peak_bytes = std::max(s.peak_bytes, arm->peak_bytes);
        if (arm->samples_per_s && std::isfinite(*arm->samples_per_s)) rates.push_back(*arm->samples_per_s);
      }
      if (!rates.empty()) s.samples_per_s = spread_of(rates);
      summaries.push_back(s);
    }
  }
  std::sort(summaries.begin(), summaries.end(),
            [](const BatchSummary& a, const BatchSummary& b) { return a.batch_size < b.batch_size; });
  return summaries;
}

bool throughput_chart(std::ostream& out, const Report& r) {
  if (!r.sweep) return false;
  const auto rec = recommended_batch(r);
  Extent x(Scale::log2), y(Scale::linear);
  std::vector<const BatchSummary*> points;
  const auto summaries = summaries_of(*r.sweep);
  for (const auto& s : summaries) {
    if (s.batch_size <= 0 || !s.samples_per_s || !std::isfinite(s.samples_per_s->mean)) continue;
    points.push_back(&s);
    x.add(static_cast<double>(s.batch_size));
    y.add(s.samples_per_s->mean);
    y.add(s.samples_per_s->min);
    y.add(s.samples_per_s->max);
  }
  if (points.empty()) return false;
  if (rec) x.add(static_cast<double>(*rec));
  // Says how many seeds the means are over: those that measured, not those asked for.
  int seeds = 1;
  bool same_seeds = true;
  for (const auto* s : points) {
    same_seeds = same_seeds && s->samples_per_s->n == points.front()->samples_per_s->n;
    seeds = std::max(seeds, s->samples_per_s->n);
  }
  const std::string subtitle = is_throughput_only(*r.sweep) ? std::string("timed steps at each size, no training runs")
                               : seeds > 1 ? std::string("mean over ") + (same_seeds ? "" : "up to ") +
                                                 std::to_string(seeds) + " seeds, whiskers min to max"
                                           : "";
  Plot plot("throughput", "Throughput", subtitle,
               log2_axis(x, "batch size (samples, log2 scale)", Plot::kPlotWidth),
               linear_axis(y, "throughput (samples/s)", true, 5));
  if (rec) highlight_recommended(plot, *rec);
  bool any_whisker = false;
  std::vector<Point> line;
  for (const auto* s : points) {
    const auto& rate = *s->samples_per_s;
    const double b = static_cast<double>(s->batch_size);
    line.emplace_back(b, rate.mean);
    if (rate.n > 1 && rate.max > rate.min) {
      plot.whisker(b, rate.min, rate.max, colour::blue,
                   "batch " + std::to_string(s->batch_size) + ": " + format_number(rate.min, "%.0f") + " to " +
                       format_number(rate.max, "%.0f") + " samples/s over " + std::to_string(rate.n) + " seeds");
      any_whisker = true;
    }
  }
  plot.polyline(line, colour::blue, 2, nullptr, "");
  for (const auto* s : points) {
    plot.dot({static_cast<double>(s->batch_size), s->samples_per_s->mean}, colour::blue, 4, true,
             "batch " + std::to_string(s->batch_size) + ": " + format_number(s->samples_per_s->mean, "%.0f") +
                 " samples/s");
  }
  plot.legend({LegendEntry::Symbol::line_dot, colour::blue, seeds > 1 ? "mean samples/s" : "samples/s"});
  if (any_whisker) plot.legend({LegendEntry::Symbol::whisker, colour::blue, "min to max over seeds"});
  plot.write(out);
  return true;
}

bool memory_chart(std::ostream& out, const Report& r) {
  const auto rec = recommended_batch(r);
  Extent x(Scale::log2), y_bytes(Scale::linear);
  bool any_data = false;
  const auto add = [&](std::int64_t batch_size, std::uint64_t peak_bytes) {
    if (batch_size <= 0 || peak_bytes == 0) return;
    x.add(static_cast<double>(batch_size));
    y_bytes.add(static_cast<double>(peak_bytes));
    any_data = true;
  };
  if (r.probe) {
    for (const auto& t : r.probe->trials) {
      if (t.outcome == TrialOutcome::fits || t.outcome == TrialOutcome::out_of_memory) add(t.batch_size, t.peak_bytes);
    }
  }
  if (r.sweep) {
    for (const auto& a : r.sweep->arms) add(a.batch_size, a.peak_bytes);
  }
  if (!any_data) return false;
  if (rec) x.add(static_cast<double>(*rec));
  // A capacity far above every measured peak (a CPU's whole free memory)
  // would flatten the data to the axis: it is then named, not drawn.
  const double largest_peak = y_bytes.hi;
  const std::uint64_t capacity_bytes = r.probe ? r.probe->capacity_bytes : 0;
  const bool capacity_drawn = capacity_bytes > 0 && double(capacity_bytes) <= 4.0 * largest_peak;
  if (capacity_drawn) y_bytes.add(static_cast<double>(capacity_bytes));

  const ByteUnit unit = byte_unit_for(y_bytes.hi);
  Extent y(Scale::linear);
  y.add(y_bytes.lo / unit.bytes);
  y.add(y_bytes.hi / unit.bytes * 1.04);  // room for the capacity label
  const Axis x_axis = log2_axis(x, "batch size (samples, log2 scale)", Plot::kPlotWidth);
  std::string subtitle = r.probe ? "probe trials, sweep arms and the fitted model" : "sweep arms";
  if (capacity_bytes > 0 && !capacity_drawn) {
    subtitle += "; the capacity, " + format_bytes(capacity_bytes) + ", is " +
                format_number(double(capacity_bytes) / largest_peak, "%.0f") +
                "\xC3\x97 the largest peak: off the scale";
  }
  Plot plot("memory", "Peak memory", subtitle,
               x_axis, linear_axis(y, std::string("peak memory (") + unit.name + ")", true, 5));
  const auto in_unit = [&](double bytes) { return bytes / unit.bytes; };

  if (rec) highlight_recommended(plot, *rec);
  if (capacity_drawn) {
    plot.reference_line(in_unit(static_cast<double>(capacity_bytes)), colour::vermillion, "6 4",
                        "capacity " + format_bytes(capacity_bytes));
    plot.legend({LegendEntry::Symbol::dashed_line, colour::vermillion, "capacity"});
  }
  if (r.probe && r.probe->memory_model) {
    const MemoryModel& m = *r.probe->memory_model;
    if (m.points >= 2 && std::isfinite(m.fixed_bytes) && std::isfinite(m.per_sample_bytes)) {
      // Straight in bytes, curved on the log2 batch axis: sample it densely.
      std::vector<Point> line;
      for (int i = 0; i <= 96; ++i) {
        const double b = std::exp2(x_axis.lo + (x_axis.hi - x_axis.lo) * i / 96.0);
        line.emplace_back(b, in_unit(m.fixed_bytes + m.per_sample_bytes * b));
      }
      plot.polyline(line, colour::purple, 1.8, nullptr,
                    "model: " + format_bytes(static_cast<std::uint64_t>(std::max(0.0, m.fixed_bytes))) + " + " +
                        format_number(m.per_sample_bytes / 1024, "%.2f") + " KiB per sample, R^2 " +
                        format_number(m.r_squared, "%.4f"));
      plot.legend({LegendEntry::Symbol::line, colour::purple, "memory model"});
    }
  }
  bool any_arm = false;
  if (r.sweep) {
    for (const auto& a : r.sweep->arms) {
      if (a.batch_size <= 0 || a.peak_bytes == 0) continue;
      plot.square({static_cast<double>(a.batch_size), in_unit(static_cast<double>(a.peak_bytes))}, colour::green,
                  "sweep batch " + std::to_string(a.batch_size) + " seed " + std::to_string(a.seed) + ": " +
                      format_bytes(a.peak_bytes));
      any_arm = true;
    }
  }
  // Failures last: they crowd against the last fits at the edge, and must show.
  bool any_fit = false, any_oom = false;
  if (r.probe) {
    for (const auto outcome : {TrialOutcome::fits, TrialOutcome::out_of_memory}) {
      for (const auto& t : r.probe->trials) {
        if (t.outcome != outcome || t.batch_size <= 0 || t.peak_bytes == 0) continue;
        const Point p{static_cast<double>(t.batch_size), in_unit(static_cast<double>(t.peak_bytes))};
        if (outcome == TrialOutcome::fits) {
          plot.dot(p, colour::blue, 4.5, true,
                   "probe batch " + std::to_string(t.batch_size) + " fits: " + format_bytes(t.peak_bytes));
          any_fit = true;
        } else {
          plot.cross(p, colour::vermillion,
                     "probe batch " + std::to_string(t.batch_size) + " out of memory at " + format_bytes(t.peak_bytes));
          any_oom = true;
        }
      }
    }
  }
  if (any_fit) plot.legend({LegendEntry::Symbol::dot, colour::blue, "probe: fits"});
  if (any_oom) plot.legend({LegendEntry::Symbol::cross, colour::vermillion, "probe: out of memory"});
  if (any_arm) plot.legend({LegendEntry::Symbol::square, colour::green, "sweep arm peak"});
  plot.write(out);
  return true;
}

bool loss_chart(std::ostream& out, const Report& r, LossAxis along) {
  if (!r.sweep) return false;
  const SweepResult& sweep = *r.sweep;
  const auto rec = recommended_batch(r);
  const auto x_of = [along](const EvalPoint& e) {
    return along == LossAxis::samples ? static_cast<double>(e.samples) : e.seconds;
  };
  // A diverged arm's losses would flatten every other curve: the y range
  // comes from the completed arms when there are any (the rest are clipped).
  Extent x(Scale::linear), y_completed(Scale::linear), y_all(Scale::linear);
  std::vector<std::int64_t> batch_sizes;
  for (const auto& a : sweep.arms) {
    bool drawn = false;
    for (const auto& e : a.evaluations) {
      if (!std::isfinite(x_of(e)) || !std::isfinite(e.loss)) continue;
      x.add(x_of(e));
      y_all.add(e.loss);
      if (a.status == ArmStatus::completed) y_completed.add(e.loss);
      drawn = true;
    }
    if (drawn) batch_sizes.push_back(a.batch_size);
  }
  if (batch_sizes.empty()) return false;
  std::sort(batch_sizes.begin(), batch_sizes.end());
  batch_sizes.erase(std::unique(batch_sizes.begin(), batch_sizes.end()), batch_sizes.end());
  Extent y = y_completed.empty() ? y_all : y_completed;
  if (sweep.target_loss) y.add(*sweep.target_loss);
  x.add(0.0);

  const bool by_samples = along == LossAxis::samples;
  Plot plot(by_samples ? "loss-vs-samples" : "loss-vs-seconds",
               by_samples ? "Validation loss against samples seen" : "Validation loss against training time",
               sweep.seeds > 1 ? "one line per arm; seeds share their batch size's colour" : "one line per arm",
               linear_axis(x, by_samples ? "samples seen" : "training time (s, evaluations excluded)", true, 8),
               linear_axis(y, "validation loss", false, 5));
  plot.legend_heading("batch size");
  // The recommended batch size is drawn in the orange that marks it in every
  // chart, thicker and on top; the others keep their place on viridis.
  const auto colour_of = [&](std::int64_t batch_size) {
    const auto at = std::lower_bound(batch_sizes.begin(), batch_sizes.end(), batch_size) - batch_sizes.begin();
    return svg::viridis(static_cast<std::size_t>(at), batch_sizes.size());
  };
  if (sweep.target_loss) {
    plot.reference_line(*sweep.target_loss, colour::black, "6 4", "target " + format_number(sweep.target_loss, "%.4g"));
  }
  // The recommended arms last, so they lie on top of the rest.
  for (const bool recommended_pass : {false, true}) {
    for (const auto& a : sweep.arms) {
      const bool is_rec = rec && a.batch_size == *rec;
      if (is_rec != recommended_pass) continue;
      std::vector<Point> line;
      for (const auto& e : a.evaluations) line.emplace_back(x_of(e), e.loss);
      const std::string colour = is_rec ? std::string(colour::orange) : colour_of(a.batch_size);
      const std::string name =
          "batch " + std::to_string(a.batch_size) + ", seed " + std::to_string(a.seed) +
          (a.status == ArmStatus::completed ? "" : " (" + to_string(a.status) + ")");
      plot.polyline(line, colour, is_rec ? 3.5 : 1.6, a.status == ArmStatus::completed ? nullptr : "3 3", name);
      for (const auto& p : line) {
        plot.dot(p, colour, is_rec ? 3.8 : 2.6, true, name + ": loss " + format_number(p.second, "%.4f"));
      }
    }
  }
  for (const auto b : batch_sizes) {
    const bool is_rec = rec && b == *rec;
    plot.legend({LegendEntry::Symbol::line, is_rec ? std::string(colour::orange) : colour_of(b),
                 std::to_string(b) + (is_rec ? " (recommended)" : ""), is_rec ? 4.0 : 2.0});
  }
  if (sweep.target_loss) plot.legend({LegendEntry::Symbol::dashed_line, colour::black, "target loss"});
  plot.write(out);
  return true;
}

bool time_to_target_chart(std::ostream& out, const Report& r) {
  if (!r.recommendation || r.recommendation->predictions.empty()) return false;
  const Recommendation& rec = *r.recommendation;
  std::vector<BatchPrediction> predictions = rec.predictions;
  std::sort(predictions.begin(), predictions.end(),
            [](const BatchPrediction& a, const BatchPrediction& b) { return a.batch_size < b.batch_size; });
  Extent x(Scale::log2), y(Scale::log10);
  bool any = false;
  for (const auto& p : predictions) {
    if (p.batch_size <= 0) continue;
    for (const auto& v : {p.seconds_to_target, p.measured_seconds_to_target}) {
      if (v && std::isfinite(*v)) {
        x.add(static_cast<double>(p.batch_size));
        y.add(*v);
        any = true;
      }
    }
  }
  if (!any) return false;
  if (r.whole_run) {
    for (const auto& p : r.whole_run->predictions) {
      if (p.seconds_low > 0 && p.seconds_high > p.seconds_low) {
        y.add(p.seconds_low);
        y.add(p.seconds_high);
      }
    }
  }
  const std::int64_t chosen = recommended_batch(r).value_or(0);
  if (chosen > 0) x.add(static_cast<double>(chosen));
  if (rec.max_fit_batch > 0) x.add(static_cast<double>(rec.max_fit_batch));
  // Predicted times climb by decades past the critical batch, and measured
  // ones can sit far below: a linear axis would flatten one of them.
  const bool log_time = y.lo > 0 && y.hi / y.lo > 10;
  Plot plot(
      "time-to-target", "Time to the target loss",
      rec.target_loss ? "target validation loss " + format_number(rec.target_loss, "%.4g") : "",
      log2_axis(x, "batch size (samples, log2 scale)", Plot::kPlotWidth),
      log_time ? log10_axis(y, "time to target (s, log scale)") : linear_axis(y, "time to target (s)", true, 5));
  if (chosen > 0) highlight_recommended(plot, chosen);
  if (rec.max_fit_batch > 0 && rec.max_fit_batch != chosen) {
    plot.reference_x(static_cast<double>(rec.max_fit_batch), colour::grey,
                         (rec.max_fit_label.find("verified") != std::string::npos ? "largest verified ("
                                                                                   : "largest that fits (") +
                             std::to_string(rec.max_fit_batch) + ")");
  }
  std::vector<Point> predicted;
  bool any_measured = false;
  for (const auto& p : predictions) {
    if (p.seconds_to_target) predicted.emplace_back(static_cast<double>(p.batch_size), *p.seconds_to_target);
  }
  // A whole-run tune's interval at each size: the B_crit band's, the arms'
  // noise and the step times' ends (whole_run.predictions).
  bool any_interval = false;
  if (r.whole_run) {
    for (const auto& p : r.whole_run->predictions) {
      if (!(p.seconds_low > 0) || !(p.seconds_high >= p.seconds_low) || p.seconds_high <= p.seconds_low) continue;
      plot.whisker(static_cast<double>(p.batch_size), p.seconds_low, p.seconds_high, colour::blue,
                   "batch " + std::to_string(p.batch_size) + ": " + format_seconds(p.seconds_low) + " to " +
                       format_seconds(p.seconds_high));
      any_interval = true;
    }
  }
  plot.polyline(predicted, colour::blue, 2, nullptr, "predicted T(B) = S(B) t(B)");
  for (const auto& p : predicted) {
    plot.dot(p, colour::blue, 2.5, true,
             "batch " + format_number(p.first, "%.0f") + ": " + format_seconds(p.second) + " predicted");
  }
  for (const auto& p : predictions) {
    if (!p.measured_seconds_to_target) continue;
    const Point m{static_cast<double>(p.batch_size), *p.measured_seconds_to_target};
    if (!plot.placed(m)) continue;
    plot.dot(m, colour::vermillion, 5, true,
             "batch " + std::to_string(p.batch_size) + ": " + format_seconds(m.second) + " measured");
    any_measured = true;
  }
  if (!predicted.empty()) plot.legend({LegendEntry::Symbol::line_dot, colour::blue, "predicted"});
  if (any_interval) plot.legend({LegendEntry::Symbol::whisker, colour::blue, "interval"});
  if (any_measured) {
    plot.legend({LegendEntry::Symbol::dot, colour::vermillion, "measured (sweep, interpolated crossing)"});
  }
  plot.write(out);
  return true;
}

bool critical_batch_chart(std::ostream& out, const Report& r) {
  if (!r.whole_run) return false;
  const WholeRun& w = *r.whole_run;
  Extent x(Scale::log10), y(Scale::log2);
  bool any = false;
  for (const auto& p : w.branch_points) {
    if (!p.critical_batch || *p.critical_batch <= 0 || p.curve_loss.value_or(p.loss) <= 0) continue;
    x.add(p.curve_loss.value_or(p.loss));
    y.add(*p.critical_batch);
    if (p.critical_low && *p.critical_low > 0) y.add(*p.critical_low);
    if (p.critical_high) y.add(*p.critical_high);
    any = true;
  }
  if (!any) return false;
  if (w.target_loss && *w.target_loss > 0) x.add(*w.target_loss);
  if (w.critical_batch_at_target && *w.critical_batch_at_target > 0) y.add(*w.critical_batch_at_target);
  const bool noise_band = w.target_loss && *w.target_loss > 0 && w.critical_batch_at_target_low &&
                          w.critical_batch_at_target_high && *w.critical_batch_at_target_low > 0;
  if (noise_band) {
    y.add(*w.critical_batch_at_target_low);
    y.add(*w.critical_batch_at_target_high);
  }
  for (const auto& n : w.trunk_noise) {
    if (n.simple_noise_scale && *n.simple_noise_scale > 0 && n.loss > 0 && n.loss >= x.lo && n.loss <= x.hi) {
      y.add(*n.simple_noise_scale);
    }
  }
  Plot plot("critical-batch", "Critical batch against the loss",
            w.critical_fit ? "measured at the branch points, carried to the run's target"
                           : "measured at the branch points, held at their mean (no growth beyond their noise)",
            log10_axis(x, "loss (log scale)"),
            log2_axis(y, "batch size (samples, log2 scale)", Plot::kPlotHeight));
  std::vector<Point> noise;
  for (const auto& n : w.trunk_noise) {
    if (n.simple_noise_scale && *n.simple_noise_scale > 0 && n.loss > 0) noise.emplace_back(n.loss, *n.simple_noise_scale);
  }
  for (const auto& p : noise) {
    plot.dot(p, colour::grey, 3, false, "B_simple " + format_number(p.second, "%.0f") + " at loss " + format_number(p.first, "%.4g"));
  }
  if (!noise.empty()) plot.legend({LegendEntry::Symbol::dot, colour::grey, "simple noise scale (trunk)"});
  if (w.critical_fit) {
    std::vector<Point> line;
    for (int i = 0; i <= 40; ++i) {
      const double l = x.lo * std::pow(x.hi / x.lo, double(i) / 40.0);
      line.emplace_back(l, w.critical_fit->coefficient * std::pow(l, w.critical_fit->exponent));
    }
    plot.polyline(line, colour::blue, 2, "6 4", "B_crit = " + format_number(w.critical_fit->coefficient, "%.4g") +
                                                   " L^" + format_number(w.critical_fit->exponent, "%.3g"));
    plot.legend({LegendEntry::Symbol::dashed_line, colour::blue, "power-law fit in the loss"});
  }
  for (const auto& p : w.branch_points) {
    if (!p.critical_batch || *p.critical_batch <= 0 || p.curve_loss.value_or(p.loss) <= 0) continue;
    if (p.critical_low && p.critical_high && *p.critical_low > 0) {
      plot.whisker(p.curve_loss.value_or(p.loss), *p.critical_low, *p.critical_high, colour::vermillion, "leave-one-size-out band");
    }
    plot.dot({p.curve_loss.value_or(p.loss), *p.critical_batch}, colour::vermillion, 5, !p.lower_bound,
             "branch point at " + std::to_string(p.trunk_samples) + " samples: B_crit " +
                 (p.lower_bound ? ">= " : "") + format_number(*p.critical_batch, "%.0f") + " at loss " +
                 format_number(p.curve_loss.value_or(p.loss), "%.4g"));
  }
  plot.legend({LegendEntry::Symbol::dot, colour::vermillion, "B_crit from branched arms"});
  if (noise_band) {
    // The arms' noise carried through the analysis: the band a user should
    // read B_crit at the target within.
    plot.whisker(*w.target_loss, *w.critical_batch_at_target_low, *w.critical_batch_at_target_high, colour::orange,
                 "with the arms' noise (" + std::to_string(w.noise_draws) + " draws): " +
                     format_number(*w.critical_batch_at_target_low, "%.0f") + " to " +
                     format_number(*w.critical_batch_at_target_high, "%.0f"));
  }
  if (w.target_loss && w.critical_batch_at_target && *w.target_loss > 0) {
    plot.dot({*w.target_loss, *w.critical_batch_at_target}, colour::orange, 6, true,
             "at the run's target loss " + format_number(*w.target_loss, "%.4g") + ": B_crit " +
                 format_number(*w.critical_batch_at_target, "%.0f"));
    plot.legend({LegendEntry::Symbol::dot, colour::orange,
                 noise_band ? "target (bar: noise)"
                            : "carried to the target"});
  }
  plot.write(out);
  return true;
}

bool trunk_and_arms_chart(std::ostream& out, const Report& r) {
  if (!r.whole_run || r.whole_run->trunk.empty()) return false;
  const WholeRun& w = *r.whole_run;
  const auto rec = recommended_batch(r);
  Extent x(Scale::log10), y(Scale::log10);
  for (const auto& t : w.trunk) {
    if (t.samples > 0 && std::isfinite(t.loss) && t.loss > 0) {
      x.add(static_cast<double>(t.samples));
      y.add(t.loss);
    }
  }
  if (x.empty()) return false;
  std::vector<std::int64_t> sizes;
  for (const auto& p : w.branch_points) {
    for (const auto& a : p.arms) {
      if (a.status != ArmStatus::completed || !a.end_loss) continue;
      sizes.push_back(a.batch_size);
      x.add(static_cast<double>(p.trunk_samples + a.samples));
      y.add(*a.end_loss);
    }
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  const double run_end = static_cast<double>(w.run.train_samples);
  if (run_end > 0) x.add(run_end);
  if (w.target_loss && *w.target_loss > 0) y.add(*w.target_loss);
  Plot plot("trunk-and-arms", "The trunk and the arms branched from it",
            "each arm starts from the trunk's weights at a branch point (open circles)",
            log10_axis(x, "samples trained (log scale)"), log10_axis(y, "validation loss (log scale)"));
  if (w.target_loss && *w.target_loss > 0) {
    plot.reference_line(*w.target_loss, colour::black, "6 4", "the run's target " + format_number(w.target_loss, "%.4g"));
  }
  if (run_end > 0) plot.reference_x(run_end, colour::grey, "the planned run's end");
  // The trunk's fitted curve, on past its end to the run's (dashed there).
  if (w.loss_curve) {
    const double trunk_end = static_cast<double>(w.trunk.back().samples);
    // Fitted to the trunk's later half: drawn from its middle.
    const double from = std::max(1.0, static_cast<double>(w.trunk[w.trunk.size() / 2].samples));
    std::vector<Point> inside, past;
    for (int i = 0; i <= 40; ++i) {
      const double s = from * std::pow(trunk_end / from, double(i) / 40.0);
      inside.emplace_back(s, loss_curve_at(*w.loss_curve, s));
    }
    if (run_end > trunk_end) {
      const LossCurveFit& beyond = w.loss_extension ? *w.loss_extension : *w.loss_curve;
      for (int i = 0; i <= 40; ++i) {
        const double s = trunk_end * std::pow(run_end / trunk_end, double(i) / 40.0);
        past.emplace_back(s, loss_curve_at(beyond, s));
      }
    }
    plot.polyline(inside, colour::grey, 1.5, nullptr, "the trunk's fitted curve (its later half)");
    if (!past.empty()) {
      plot.polyline(past, colour::grey, 1.5, "6 4", "the curve carried past the trunk to the run's end");
      plot.legend({LegendEntry::Symbol::dashed_line, colour::grey, "curve past the trunk"});
    }
  }
  std::vector<Point> trunk;
  for (const auto& t : w.trunk) trunk.emplace_back(static_cast<double>(t.samples), t.loss);
  plot.polyline(trunk, colour::black, 2.2, nullptr,
                "trunk at batch " + std::to_string(w.base_batch) + " (lr " + format_number(w.base_learning_rate, "%.4g") + ")");
  plot.legend({LegendEntry::Symbol::line, colour::black, "trunk, batch " + std::to_string(w.base_batch)});
  const auto colour_of = [&](std::int64_t b) {
    if (rec && b == *rec) return std::string(colour::orange);
    const auto at = std::lower_bound(sizes.begin(), sizes.end(), b) - sizes.begin();
    return svg::viridis(static_cast<std::size_t>(at), sizes.size());
  };
  for (const bool recommended_pass : {false, true}) {
    for (const auto& p : w.branch_points) {
      for (const auto& a : p.arms) {
        if (a.status != ArmStatus::completed || !a.end_loss) continue;
        if ((rec && a.batch_size == *rec) != recommended_pass) continue;
        const double x0 = static_cast<double>(p.trunk_samples);
        std::vector<Point> line{{x0, p.loss}};
        for (const auto& e : a.evaluations) line.emplace_back(x0 + static_cast<double>(e.samples), e.loss);
        const Point end{x0 + static_cast<double>(a.samples), *a.end_loss};
        if (line.back() != end) line.push_back(end);
        const std::string name = "batch " + std::to_string(a.batch_size) +
                                 (a.lr_factor != 1 ? " at " + format_number(a.lr_factor, "%g") + "x the rule's rate" : "") +
                                 " from " + std::to_string(p.trunk_samples) + " samples: loss " +
                                 format_number(*a.end_loss, "%.4g") + " after " + std::to_string(a.samples) + " samples";
        const std::string c = colour_of(a.batch_size);
        plot.polyline(line, c, recommended_pass ? 2.6 : 1.4, a.lr_factor != 1 ? "3 3" : nullptr, name);
        plot.dot(end, c, recommended_pass ? 3.6 : 2.6, a.lr_factor == 1, name);
      }
    }
  }
  for (std::int64_t b : sizes) plot.legend({LegendEntry::Symbol::line_dot, colour_of(b), "arms at batch " + std::to_string(b)});
  for (const auto& p : w.branch_points) {
    plot.dot({static_cast<double>(p.trunk_samples), p.loss}, colour::black, 4, false,
             "branch point at " + std::to_string(p.trunk_samples) + " samples, loss " + format_number(p.loss, "%.4g"));
  }
  plot.write(out);
  return true;
}

bool step_time_chart(std::ostream& out, const Report& r) {
  if (!r.whole_run || r.whole_run->predictions.empty()) return false;
  const WholeRun& w = *r.whole_run;
  const auto rec = recommended_batch(r);
  Extent x(Scale::log2), y(Scale::log10);
  for (const auto& p : w.predictions) {
    if (p.batch_size > 0 && p.step_s > 0) {
      x.add(static_cast<double>(p.batch_size));
      y.add(1000.0 * p.step_s);
    }
  }
  if (x.empty()) return false;
  Plot plot("step-time", "Step time against batch size",
            "the step clock, mean wall time per step; filled: measured, open: interpolated",
            log2_axis(x, "batch size (samples, log2 scale)", Plot::kPlotWidth),
            log10_axis(y, "step time (ms, log scale)"));
  if (rec) highlight_recommended(plot, *rec);
  std::vector<Point> line;
  bool any_interpolated = false, any_measured = false;
  for (const auto& p : w.predictions) {
    if (!(p.step_s > 0)) continue;
    const Point at{static_cast<double>(p.batch_size), 1000.0 * p.step_s};
    line.push_back(at);
    const std::string tip = "batch " + std::to_string(p.batch_size) + ": " + format_number(1000.0 * p.step_s, "%.3g") +
                            " ms a step (" + format_number(double(p.batch_size) / p.step_s, "%.0f") + " samples/s), " +
                            (p.step_time_measured ? "measured" : "interpolated");
    plot.dot(at, colour::blue, 3.2, p.step_time_measured, tip);
    any_measured = any_measured || p.step_time_measured;
    any_interpolated = any_interpolated || !p.step_time_measured;
  }
  plot.polyline(line, colour::blue, 1.6, nullptr, "t(B)");
  if (any_measured) plot.legend({LegendEntry::Symbol::dot, colour::blue, "measured"});
  if (any_interpolated) plot.legend({LegendEntry::Symbol::line, colour::blue, "interpolated"});
  plot.write(out);
  return true;
}

}  // namespace batchtune::html
