#include "reports/render/render_html.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "reports/render/html_charts.hpp"
#include "reports/render/render_text.hpp"
#include "reports/model/whole_run.hpp"
#include "reports/model/machine_info.hpp"
#include "reports/render/svg_plot.hpp"
#include "reports/util/text_util.hpp"
#include "reports/util/units.hpp"

namespace batchtune {
namespace {

using html::recommended_batch;
using html::summaries_of;

std::string esc(const std::string& text) { return html_escape(text); }
std::string integer(std::int64_t value) { return std::to_string(value); }

constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d1d1d; background: #fff; max-width: 1100px; margin: 0 auto; padding: 24px 28px 40px;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.subtitle { color: #555; margin: 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
            font-size: 13px; }
pre { background: #f5f5f5; padding: 10px 12px; border-radius: 4px; white-space: pre-wrap; word-break: break-all; }
.recommendation { background: #fff7e6; border: 1px solid #f0d9a8; border-left: 6px solid #E69F00;
                  border-radius: 6px; padding: 4px 22px 14px; margin-top: 22px; }
.recommendation h2 { border: none; margin-top: 14px; }
.recommendation.none { background: #f6f6f6; border-color: #ddd; border-left-color: #999; }
.headline { font-size: 30px; margin: 0 0 10px; }
.headline strong { font-size: 38px; }
.headline .accumulation { font-size: 18px; color: #444; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; }
dl.facts ul { margin: 2px 0; padding-left: 20px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 13px; }
.badge.high { background: #007a5a; } .badge.medium { background: #b07800; } .badge.low { background: #c24d00; }
.badge.other { background: #666; }
.reasons li { margin: 3px 0; }
figure { margin: 18px 0 26px; }
svg.chart { display: block; max-width: 100%; height: auto; background: #fff; }
svg.chart text { font-family: inherit; font-size: 12px; fill: #333; }
svg.chart .chart-title { font-size: 15px; font-weight: 600; fill: #111; }
svg.chart .chart-subtitle { font-size: 12px; font-weight: 400; fill: #666; }
svg.chart .tick { font-size: 11.5px; fill: #444; }
svg.chart .axis-title { font-size: 12.5px; fill: #222; }
svg.chart .annotation { font-size: 11.5px; font-weight: 600; }
svg.chart .legend-heading { font-weight: 600; }
svg.chart .grid { stroke: #e8e8e8; stroke-width: 1; }
svg.chart .axis { stroke: #555; stroke-width: 1; }
.missing { color: #666; font-style: italic; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13.5px; }
th, td { white-space: nowrap; padding: 4px 10px; border-bottom: 1px solid #e4e4e4; text-align: right;
         vertical-align: top; }
th { background: #f3f3f3; font-weight: 600; white-space: normal; }
td.text, th.text { text-align: left; }
td .range { display: block; font-size: 11.5px; color: #666; font-weight: 400; }
tr.recommended td { background: #fff1d0; font-weight: 600; }
.tag { display: inline-block; font-size: 11px; font-weight: 600; color: #7a5200; background: #ffe3a3;
       border-radius: 8px; padding: 0 6px; margin-left: 4px; }
.outcome-fits { color: #007a5a; } .outcome-bad { color: #c24d00; font-weight: 600; }
.warning { color: #a33f00; font-weight: 600; }
td.message { white-space: normal; }
.message { max-width: 520px; word-break: break-word; font-size: 12.5px; color: #444; }
footer { margin-top: 40px; border-top: 1px solid #ddd; padding-top: 10px; color: #555; font-size: 13px; }
)css";

// Counts the charts that drew something (the check in html_renders.sh reads
// these from the DOM); the page's only script.
constexpr const char* kScript = R"js(
window.addEventListener('load', function () {
  var charts = document.querySelectorAll('svg.chart');
  var rendered = 0;
  charts.forEach(function (svg) {
    try {
      var box = svg.getBBox();
      if (!(box.width > 0 && box.height > 0)) return;
      var marks = svg.querySelectorAll('.mark');
      for (var i = 0; i < marks.length; ++i) {
        var mark = marks[i].getBBox();
        if (mark.width > 0 || mark.height > 0) { rendered += 1; return; }
      }
    } catch (e) { /* not rendered: not counted */ }
  });
  document.body.dataset.chartsTotal = String(charts.length);
  document.body.dataset.chartsRendered = String(rendered);
});
)js";

// A definition-list row, escaped; skipped when the value is empty.
void fact(std::ostream& out, const char* name, const std::string& value) {
  if (value.empty()) return;
  out << "<dt>" << name << "</dt><dd>" << esc(value) << "</dd>\n";
}

void write_header(std::ostream& out, const Report& r) {
  std::string subtitle;
  if (r.machine) subtitle = machine_label(*r.machine);
  if (!r.date.empty()) subtitle += (subtitle.empty() ? "" : " \xC2\xB7 ") + r.date;
  out << "<header>\n<h1>" << esc(r.workload.model.empty() ? "(unnamed model)" : r.workload.model) << " on "
      << esc(r.workload.data.empty() ? "(unnamed data)" : r.workload.data) << "</h1>\n";
  if (!subtitle.empty()) out << "<p class=\"subtitle\">" << esc(subtitle) << "</p>\n";
  out << "</header>\n";
}

void write_recommendation(std::ostream& out, const Report& r) {
  if (!r.recommendation) {
    out << "<section class=\"recommendation none\" id=\"recommendation\">\n<h2>Recommendation</h2>\n"
        << "<p>There is no recommendation in this report: it holds the measurements below, without a choice "
           "made from them.</p>\n</section>\n";
    return;
  }
  const Recommendation& rec = *r.recommendation;
  if (!rec.recommends()) {
    // No answer without evidence: say so plainly, and why.
    out << "<section class=\"recommendation none\" id=\"recommendation\">\n<h2>Recommendation</h2>\n"
        << "<p class=\"headline\"><strong>No recommendation</strong></p>\n"
        << "<p>No batch size has the evidence for one (objective " << esc(to_string(rec.objective)) << ").</p>\n";
    if (!rec.reasons.empty()) {
      out << "<h3>Why</h3>\n<ul class=\"reasons\">\n";
      for (const auto& reason : rec.reasons) out << "<li>" << esc(reason) << "</li>\n";
      out << "</ul>\n";
    }
    out << "</section>\n";
    return;
  }
  out << "<section class=\"recommendation\" id=\"recommendation\">\n<h2>Recommendation</h2>\n"
      << "<p class=\"headline\">Batch size <strong>" << *rec.batch_size << "</strong>";
  if (rec.accumulation_steps.value_or(1) > 1 && rec.micro_batch_size) {
    out << " <span class=\"accumulation\">= micro-batch " << *rec.micro_batch_size << " \xC3\x97 "
        << *rec.accumulation_steps << " accumulation steps</span>";
  }
  out << "</p>\n<dl class=\"facts\">\n";
  out << "<dt>learning rate</dt><dd><strong>" << esc(format_number(rec.learning_rate, "%.4g")) << "</strong>"
      << (rec.learning_rate_rule.empty() ? "" : " (" + esc(rec.learning_rate_rule) + ")") << "</dd>\n";
  fact(out, "objective", to_string(rec.objective));
  std::vector<std::string> times;
  const auto finite = [](const std::optional<double>& v) { return v && std::isfinite(*v); };
  if (finite(rec.predicted_seconds_to_target))
    times.push_back(format_seconds(rec.predicted_seconds_to_target) + " predicted");
  if (finite(rec.measured_seconds_to_target))
    times.push_back(format_seconds(rec.measured_seconds_to_target) + " measured (interpolated crossing)");
  std::string time = times.empty() ? "not predicted and not measured" : times.front();
  if (times.size() > 1) time += ", " + times.back();
  if (rec.target_loss) time += " (target validation loss " + format_number(rec.target_loss, "%.4f") + ")";
  fact(out, "time to target", time);
  std::string largest = integer(rec.max_fit_batch);
  if (rec.max_fit_batch == rec.batch_size) {
    largest += ": the recommendation is " + rec.max_fit_label;
  } else if (rec.max_fit_slowdown && std::isfinite(*rec.max_fit_slowdown)) {
    largest += ": " + format_number(rec.max_fit_slowdown, "%.2f") + "\xC3\x97 as long to the target (" +
               format_seconds(rec.max_fit_seconds_to_target) + ")";
  } else {
    largest += ": no time-to-target prediction for it";
  }
  fact(out, rec.max_fit_label.c_str(), largest);
  const std::string level = rec.confidence == Confidence::none ? "other" : to_string(rec.confidence);
  out << "<dt>confidence</dt><dd><span class=\"badge " << level << "\">" << esc(to_string(rec.confidence))
      << "</span>";
  if (!rec.confidence_notes.empty()) {
    out << "<ul>";
    for (const auto& note : rec.confidence_notes) out << "<li>" << esc(note) << "</li>";
    out << "</ul>";
  }
  out << "</dd>\n";
  if (rec.steps_fit) {
    fact(out, "critical batch",
         format_number(rec.steps_fit->critical_batch, "%.0f") + " (S(B) = S_min (1 + B_crit/B), S_min " +
             format_number(rec.steps_fit->min_steps, "%.0f") + " steps, R\xC2\xB2 " + format_number(rec.steps_fit->r_squared, "%.3f") +
             " over " + std::to_string(rec.steps_fit->points) + " sizes)");
  }
  if (rec.step_time_fit) {
    const StepTimeFit& f = *rec.step_time_fit;
    std::string s = format_number(f.fixed_s * 1e3, "%.3g") + " ms + " + format_number(f.per_sample_s * 1e6, "%.3g") +
                    " \xC2\xB5s per sample (R\xC2\xB2 " + format_number(f.r_squared, "%.3f") + ")";
    // Where the fixed cost per step equals the per-sample cost; said only
    // inside the sizes predicted (below the smallest it would contradict
    // the throughput rising across them).
    std::optional<std::int64_t> smallest;
    for (const auto& p : rec.predictions) smallest = smallest ? std::min(*smallest, p.batch_size) : p.batch_size;
    if (f.saturation_batch && smallest && *f.saturation_batch >= double(*smallest)) {
      s += "; throughput is half its limit near batch " + format_number(f.saturation_batch, "%.0f");
    }
    fact(out, "step time", s);
  }
  if (rec.noise_scale.simple_noise_scale) {
    fact(out, "noise scale",
         "B_simple " + format_number(rec.noise_scale.simple_noise_scale, "%.0f") + " (" +
             format_interval(rec.noise_scale.low, rec.noise_scale.high, "%.0f") + ", batches " + integer(rec.noise_scale.small_batch) +
             " and " + integer(rec.noise_scale.large_batch) + ")");
  } else {
    fact(out, "noise scale",
         describe(rec.noise_scale.status) + (rec.noise_scale.message.empty() ? "" : ": " + rec.noise_scale.message));
  }
  out << "</dl>\n";
  if (!rec.reasons.empty()) {
    out << "<h3>Why</h3>\n<ul class=\"reasons\">\n";
    for (const auto& reason : rec.reasons) out << "<li>" << esc(reason) << "</li>\n";
    out << "</ul>\n";
  }
  out << "</section>\n";
}

void write_charts(std::ostream& out, const Report& r) {
  out << "<section id=\"charts\">\n<h2>Charts</h2>\n";
  // `missing` is null where an earlier line already said why.
  const auto figure = [&out](bool (*draw)(std::ostream&, const Report&), const Report& report, const char* missing) {
    std::ostringstream svg;
    if (draw(svg, report)) {
      out << "<figure>\n" << svg.str() << "</figure>\n";
    } else if (missing) {
      out << "<p class=\"missing\">" << missing << "</p>\n";
    }
  };
  if (r.whole_run) {
    // The method, in the order it runs: the trunk and its arms, B_crit from
    // them, the step clock, and the run's predicted time at every size.
    figure(html::trunk_and_arms_chart, r, "No trunk chart: the tune recorded no trunk evaluations.");
    figure(html::critical_batch_chart, r, "No critical-batch chart: no branch point measured a critical batch.");
    figure(html::step_time_chart, r, "No step-time chart: no size has a step time.");
    if (r.recommendation) {
      figure(html::time_to_target_chart, r, "No time-to-target chart: the recommendation has no predictions.");
    }
    figure(html::memory_chart, r, "No memory chart: this report has no probe trials.");
  } else {
    figure(html::throughput_chart, r, "No throughput chart: this report has no sweep with measured throughput.");
    figure(html::memory_chart, r, "No memory chart: this report has neither probe trials nor sweep arms with a peak.");
    figure([](std::ostream& o, const Report& rep) { return html::loss_chart(o, rep, html::LossAxis::samples); }, r,
           "No loss charts: this report has no sweep arm with a validation loss.");
    figure([](std::ostream& o, const Report& rep) { return html::loss_chart(o, rep, html::LossAxis::seconds); }, r,
           nullptr);
    if (r.recommendation) {
      figure(html::time_to_target_chart, r, "No time-to-target chart: the recommendation has no predictions.");
    }
  }
  out << "</section>\n";
}

std::string spread_cell(const std::optional<Spread>& s, const char* format) {
  if (!s || !std::isfinite(s->mean)) return "-";
  std::string cell = format_number(s->mean, format);
  if (s->n > 1 && s->max > s->min) {
    cell += "<span class=\"range\">" + format_number(s->min, format) + "\xE2\x80\x93" + format_number(s->max, format) + "</span>";
  }
  return cell;
}

void write_sweep_tables(std::ostream& out, const Report& r) {
  if (r.whole_run) {
    // A whole-run tune has no sweep arms: its trunk, branch points and
    // predictions, as the console prints them.
    const WholeRun& w = *r.whole_run;
    const auto rec = html::recommended_batch(r);
    out << "<h3>Whole run: predicted at each size</h3>\n";
    if (w.target_loss) {
      out << "<p>To validation loss " << esc(format_number(*w.target_loss, "%.4g")) << " (" << esc(w.target_source) << ") over "
          << integer(w.run.train_samples) << " training samples.</p>\n";
    }
    out << "<table class=\"summary\">\n<thead><tr><th>batch</th><th>learning rate</th><th>steps</th><th>step time</th>"
           "<th>predicted run time</th><th>interval</th></tr></thead>\n<tbody>\n";
    for (const auto& p : w.predictions) {
      const bool chosen = rec && *rec == p.batch_size;
      out << "<tr" << (chosen ? " class=\"recommended\"" : "") << "><td>" << integer(p.batch_size) << "</td><td>"
          << esc(format_number(p.learning_rate, "%.4g")) << (p.lr_factor != 1 ? " (" + esc(format_number(p.lr_factor, "%g")) + "x the rule)" : "")
          << "</td><td>" << esc(format_number(p.steps, "%.0f")) << "</td><td>" << esc(format_number(1000.0 * p.step_s, "%.3g")) << " ms"
          << (p.step_time_measured ? "" : " <span class=\"range\">interpolated</span>") << "</td><td>"
          << esc(format_seconds(p.seconds)) << "</td><td>"
          << (p.seconds_high > p.seconds_low && p.seconds_low > 0
                  ? esc(format_seconds(p.seconds_low)) + " to " + esc(format_seconds(p.seconds_high))
                  : std::string("-"))
          << "</td></tr>\n";
    }
    out << "</tbody>\n</table>\n";
    std::ostringstream text;
    render_whole_run_text(text, w);
    out << "<details><summary>The tune in detail: trunk, branch points, B_crit, notes</summary>\n<pre>" << esc(text.str())
        << "</pre>\n</details>\n";
    if (r.sweep && r.sweep->incomplete) out << "<p><strong>Incomplete:</strong> " << esc(r.sweep->incomplete_reason) << "</p>\n";
    return;
  }
  if (!r.sweep) {
    out << "<h3>Sweep</h3>\n<p class=\"missing\">No sweep in this report.</p>\n";
    return;
  }
  const SweepResult& s = *r.sweep;
  if (is_throughput_only(s)) {
    out << "<h3>Throughput only</h3>\n<p>Timed steps at each size, no training runs"
        << (s.throughput_knee.empty() ? std::string() : " (" + esc(s.throughput_knee) + ")") << ".</p>\n";
    if (s.incomplete) out << "<p class=\"warning\">Incomplete: " << esc(s.incomplete_reason) << "</p>\n";
    out << "<table class=\"summary\">\n<thead><tr><th>batch</th><th>samples/s</th><th>step</th><th>peak memory</th>"
           "<th>steps timed</th></tr></thead>\n<tbody>\n";
    for (const auto& p : s.throughput_scan) {
      out << "<tr><td>" << integer(p.batch_size) << "</td><td>" << esc(format_number(p.samples_per_s, "%.0f")) << "</td><td>"
          << esc(format_number(1000.0 * p.mean_step_seconds, "%.3g")) << " ms</td><td>" << esc(format_bytes(p.peak_bytes))
          << "</td><td>" << p.timed_steps << "</td></tr>\n";
    }
    out << "</tbody>\n</table>\n";
    return;
  }
  const auto rec = recommended_batch(r);
  out << "<h3>Sweep: per batch size</h3>\n<p>" << esc(to_string(s.budget_kind)) << " budget "
      << esc(format_number(s.budget_value, "%.6g"))
      << " per arm, " << s.seeds << " seed" << (s.seeds == 1 ? "" : "s") << ", " << esc(s.precision)
      << ", learning rate scaling " << esc(to_string(s.lr_scaling)) << " from batch " << s.base_batch << " at "
      << esc(format_number(s.base_learning_rate, "%.4g")) << "; validation every " << s.eval_every_samples << " samples on "
      << s.eval_samples << ". Target validation loss " << esc(format_number(s.target_loss, "%.4f"))
      << (s.target_source.empty() ? "" : " (" + esc(s.target_source) + ")") << ".";
  if (!s.batch_sizes_source.empty()) out << " Batch sizes: " << esc(s.batch_sizes_source) << ".";
  out << "</p>\n";
  if (s.incomplete) out << "<p class=\"warning\">Incomplete: " << esc(s.incomplete_reason) << "</p>\n";
  if (!s.throughput_scan.empty() || !s.throughput_knee.empty()) {
    std::string scan;
    for (const auto& p : s.throughput_scan) {
      scan += (scan.empty() ? "" : ", ") + integer(p.batch_size) + " at " + format_number(p.samples_per_s, "%.0f");
    }
    out << "<p>Throughput scan: " << esc(scan.empty() ? s.throughput_knee
                                                      : scan + " samples/s" +
                                                            (s.throughput_knee.empty() ? "" : "; " + s.throughput_knee))
        << ".</p>\n";
  }
  if (s.phase_seconds.total > 0) {
    const PhaseSeconds& t = s.phase_seconds;
    out << "<p>Time: probe " << esc(format_seconds(t.probe)) << ", throughput scan "
        << esc(format_seconds(t.throughput_scan)) << ", training " << esc(format_seconds(t.training))
        << ", evaluation " << esc(format_seconds(t.evaluation)) << ", noise scale "
        << esc(format_seconds(t.noise_scale)) << ", total " << esc(format_seconds(t.total)) << ".</p>\n";
  }
  out << "<p>Time to target: where the validation loss crossed the target, interpolated between evaluations; "
         "shown only when every seed of a size reached it. Train loss: the loss on as many training samples as "
         "the validation's, at each arm's end (eval mode; a report from before it was measured: the running "
         "training loss over the arm's last fifth of steps); gap: the final validation loss minus it.</p>\n";
  if (const auto v = variable_size_summary(r); !v.empty()) out << "<p>" << esc(v) << "</p>\n";
  out << "<table class=\"summary\">\n<thead><tr><th>batch</th><th>learning rate</th><th>done</th>"
      << "<th>samples/s</th><th>val loss</th><th>val accuracy</th><th>time to target</th>"
      << "<th>samples to target</th><th>peak memory</th><th>train loss</th><th>gap (val - train)</th></tr></thead>\n"
         "<tbody>\n";
  for (const auto& b : summaries_of(s)) {
    const bool is_rec = rec && b.batch_size == *rec;
    // The tag goes before the number so the batch sizes stay aligned.
    out << "<tr" << (is_rec ? " class=\"recommended\"" : "") << "><td>"
        << (is_rec ? "<span class=\"tag\">recommended</span> " : "") << b.batch_size << "</td><td>"
        << esc(format_number(b.learning_rate, "%.4g")) << "</td><td>" << b.completed << "/" << b.arms << "</td><td>"
        << spread_cell(b.samples_per_s, "%.0f") << "</td><td>" << spread_cell(b.final_validation_loss, "%.4f")
        << "</td><td>" << spread_cell(b.final_validation_accuracy, "%.4f") << "</td><td>"
        << esc(format_seconds(mean_of(b.seconds_to_target))) << "</td><td>"
        << esc(format_number(mean_of(b.samples_to_target), "%.0f")) << "</td><td>" << esc(format_bytes(b.peak_bytes))
        << "</td><td>" << spread_cell(b.final_training_loss, "%.4f") << "</td><td>"
        << esc(format_number(mean_of(b.generalization_gap), "%+.4f"))
        << (b.validation_worse_than_best.value_or(false) ? " <span class=\"tag\">val worse than the best</span>" : "")
        << "</td></tr>\n";
  }
  out << "</tbody>\n</table>\n";
  bool any_failed = false;
  for (const auto& a : s.arms) {
    if (a.status == ArmStatus::completed) continue;
    if (!any_failed) out << "<p>Arms that did not complete:</p>\n<ul>\n";
    any_failed = true;
    out << "<li>batch " << a.batch_size << " seed " << a.seed << ": "
        << esc(nlohmann::json(a.status).get<std::string>())
        << (a.failed_at_step ? " at step " + std::to_string(*a.failed_at_step) : "")
        << (a.message.empty() ? "" : " (" + esc(a.message) + ")") << "</li>\n";
  }
  if (any_failed) out << "</ul>\n";
}

void write_probe_tables(std::ostream& out, const Report& r) {
  if (!r.probe) {
    out << "<h3>Memory probe</h3>\n<p class=\"missing\">No memory probe in this report.</p>\n";
    return;
  }
  const ProbeResult& p = *r.probe;
  out << "<h3>Memory probe: trials</h3>\n<dl class=\"facts\">\n";
  fact(out, "largest fitting batch",
       integer(p.largest_fitting_batch) + (p.capped ? " (capped by " + (p.cap_source.empty() ? std::string("--max-batch") : p.cap_source) + " at " + integer(p.max_batch) + ")" : "") +
           (p.first_failing_batch ? "; first failing " + integer(*p.first_failing_batch) : ""));
  fact(out, "safe maximum", integer(p.safe_max_batch) + " (margin " + format_number(p.margin * 100, "%.0f") + "%)");
  if (p.min_batch > 1) {
    fact(out, "smallest batch",
         integer(p.min_batch) + ": smaller ones cannot train" +
             (p.min_batch_reason.empty() ? "" : " (" + first_line(p.min_batch_reason) + ")"));
  }
  fact(out, "capacity",
       format_bytes(p.capacity_bytes) + (p.capacity_source.empty() ? "" : " (" + p.capacity_source + ")"));
  fact(out, "search",
       to_string(p.strategy) + " on " + p.device + ", meter " + p.meter + ", " + std::to_string(p.trials.size()) + " trials in " +
           format_seconds(p.total_seconds) + (p.isolated ? ", each in its own process" : ""));
  if (p.memory_model) {
    const MemoryModel& m = *p.memory_model;
    fact(out, "memory model",
         (std::isfinite(m.fixed_bytes) && m.fixed_bytes >= 0 ? format_bytes(static_cast<std::uint64_t>(m.fixed_bytes))
                                                             : "-") +
             " + " + format_number(m.per_sample_bytes / 1024, "%.2f") + " KiB \xC3\x97 batch (R\xC2\xB2 " +
             format_number(m.r_squared, "%.4f") + ", " + std::to_string(m.points) + " points)" +
             (p.predicted_edge ? "; predicted edge " + integer(*p.predicted_edge) : ""));
  }
  out << "</dl>\n";
  if (p.trials.empty()) return;
  out << "<table class=\"trials\">\n<thead><tr><th>#</th><th>batch</th><th class=\"text\">outcome</th>"
      << "<th>peak memory</th><th>seconds</th><th class=\"text\">message</th></tr></thead>\n<tbody>\n";
  int index = 0;
  for (const auto& t : p.trials) {
    const std::string outcome = nlohmann::json(t.outcome).get<std::string>();
    out << "<tr><td>" << ++index << "</td><td>" << t.batch_size << "</td><td class=\"text "
        << (t.outcome == TrialOutcome::fits ? "outcome-fits" : "outcome-bad") << "\">" << esc(outcome) << "</td><td>"
        << esc(format_bytes(t.peak_bytes)) << "</td><td>" << esc(format_number(t.seconds, "%.2f"))
        << "</td><td class=\"text message\">" << esc(first_line(t.message)) << "</td></tr>\n";
  }
  out << "</tbody>\n</table>\n";
}

void write_details(std::ostream& out, const Report& r) {
  const WorkloadInfo& w = r.workload;
  out << "<section id=\"details\">\n<h2>Workload and machine</h2>\n<h3>Workload</h3>\n<dl class=\"facts\">\n";
  fact(out, "model", w.model + (w.parameter_count > 0 ? " (" + integer(w.parameter_count) + " parameters)" : ""));
  fact(out, "task", w.task + (w.num_classes > 0 ? ", " + integer(w.num_classes) + " classes" : ""));
  fact(out, "data", w.data + (w.data_source.empty() ? "" : " (" + w.data_source + ")"));
  fact(out, "samples",
       integer(w.train_samples) + " training, " + integer(w.validation_samples) + " validation" +
           (w.validation_split.empty() ? "" : " (" + w.validation_split + ")"));
  std::string shape;
  for (const auto d : w.input_shape) shape += (shape.empty() ? "" : " \xC3\x97 ") + integer(d);
  fact(out, "input shape", shape);
  fact(out, "loss", w.loss + (w.loss_floor ? " (floor " + format_number(w.loss_floor, "%.4g") + ")" : ""));
  fact(out, "optimizer",
       w.optimizer + ", learning rate " + format_number(w.learning_rate, "%.4g") + ", momentum " + format_number(w.momentum, "%.3g") +
           ", weight decay " + format_number(w.weight_decay, "%.3g"));
  fact(out, "precision", w.precision);
  fact(out, "device", w.device);
  fact(out, "seed", std::to_string(w.seed));
  out << "</dl>\n<h3>Machine</h3>\n";
  if (!r.machine) {
    out << "<p class=\"missing\">No machine information in this report.</p>\n</section>\n";
    return;
  }
  const MachineInfo& m = *r.machine;
  out << "<dl class=\"facts\">\n";
  fact(out, "host", m.host_name);
  fact(out, "os", m.os + (m.kernel.empty() ? "" : " (" + m.kernel + ")"));
  fact(out, "cpu",
       m.cpu_model + ", " + std::to_string(m.logical_cores) + " logical cores, " + std::to_string(m.usable_cores) +
           " usable");
  fact(out, "torch threads",
       std::to_string(m.torch_threads) + " intra-op, " + std::to_string(m.torch_interop_threads) + " inter-op");
  fact(out, "ram",
       format_bytes(m.ram_total_bytes) + " total, " + format_bytes(m.ram_available_bytes) + " available" +
           (m.cgroup_memory_limit_bytes ? "; cgroup limit " + format_bytes(*m.cgroup_memory_limit_bytes) : ""));
  fact(out, "libtorch",
       m.libtorch_version + ", CUDA " + (m.cuda_built ? "built in" : "not built in") + ", " +
           (m.cuda_available ? "available" : "not available"));
  for (const auto& g : m.gpus) {
    out << "<dt>gpu " << g.index << "</dt><dd>"
        << esc(g.name + ", " + format_bytes(g.total_memory_bytes) + ", compute capability " + g.compute_capability)
        << "</dd>\n";
  }
  fact(out, "build", m.build_type + (m.compiler.empty() ? "" : ", " + m.compiler));
  out << "</dl>\n</section>\n";
}

void write_footer(std::ostream& out, const Report& r) {
  out << "<footer>\n<p>batchtune " << esc(r.tool_version.empty() ? "(unknown version)" : r.tool_version);
  if (!r.tool_commit.empty()) out << " (commit <code>" << esc(r.tool_commit) << "</code>)";
  out << ", report schema version " << r.schema_version;
  if (!r.path.empty()) out << ", read from <code>" << esc(r.path) << "</code>";
  out << ".</p>\n";
  if (!r.command_line.empty()) out << "<p>Command line:</p>\n<pre><code>" << esc(r.command_line) << "</code></pre>\n";
  out << "</footer>\n";
}

}  // namespace

void render_report_html(std::ostream& out, const Report& r) {
  std::string title = "batchtune: " + r.workload.model + " on " + r.workload.data;
  if (r.machine) title += ", " + machine_label(*r.machine);
  if (!r.date.empty()) title += ", " + r.date;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>" << esc(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  write_header(out, r);
  write_recommendation(out, r);
  write_charts(out, r);
  out << "<section id=\"tables\">\n<h2>Tables</h2>\n";
  write_sweep_tables(out, r);
  write_probe_tables(out, r);
  out << "</section>\n";
  write_details(out, r);
  write_footer(out, r);
  out << "<script>" << kScript << "</script>\n</body>\n</html>\n";
}

}  // namespace batchtune

