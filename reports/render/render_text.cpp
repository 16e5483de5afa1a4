#include "reports/render/render_text.hpp"

#include <ostream>

#include "reports/model/machine_info.hpp"
#include "reports/render/render_sweep.hpp"
#include "reports/util/text_util.hpp"
#include "reports/util/units.hpp"
#include "reports/model/whole_run.hpp"

namespace batchtune {
namespace {

std::string batch_and_accumulation(const Recommendation& r) {
  std::string s = r.batch_size ? std::to_string(*r.batch_size) : "-";
  if (r.accumulation_steps.value_or(1) > 1 && r.micro_batch_size) {
    s += " (micro-batch " + std::to_string(*r.micro_batch_size) + " x " + std::to_string(*r.accumulation_steps) +
         " accumulation steps)";
  }
  return s;
}

std::string slowdown_sentence(const Recommendation& r) {
  if (r.batch_size && r.max_fit_batch == *r.batch_size) return "it is " + r.max_fit_label;
  std::string s = r.max_fit_label + ", " + std::to_string(r.max_fit_batch) + ", ";
  if (r.max_fit_slowdown) return s + "takes " + format_number(r.max_fit_slowdown, "%.2f") + "x as long";
  return s + "has no time-to-target prediction";
}

std::string header_line(const Report& r) {
  std::string s = r.workload.model + " on " + r.workload.data + ", " + r.workload.device + ", " + r.workload.precision;
  if (r.machine) s += "; " + machine_label(*r.machine);
  if (!r.date.empty()) s += "; " + r.date;
  return s;
}

// Markdown table cells must not break the table.
std::string cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

void render_recommendation_text(std::ostream& out, const Recommendation& r) {
  if (!r.recommends()) {
    out << "recommendation (" << to_string(r.objective) << "): none, no batch size has the evidence for one\n";
    if (r.target_loss) out << "  target loss           " << format_number(r.target_loss, "%.4f") << '\n';
    for (const auto& reason : r.reasons) out << "  - " << reason << '\n';
    return;
  }
  out << "recommendation (" << to_string(r.objective) << "): batch size " << batch_and_accumulation(r) << ", learning rate "
      << format_number(r.learning_rate, "%.4g") << '\n';
  out << "  learning rate rule    " << r.learning_rate_rule << '\n';
  if (r.target_loss) out << "  target loss           " << format_number(r.target_loss, "%.4f") << '\n';
  out << "  time to target        " << format_seconds(r.predicted_seconds_to_target) << " predicted";
  if (r.measured_seconds_to_target) out << ", " << format_seconds(r.measured_seconds_to_target) << " measured";
  out << "; " << slowdown_sentence(r) << '\n';
  if (r.steps_fit) {
    out << "  critical batch        " << format_number(r.steps_fit->critical_batch, "%.0f") << " (S(B) fit, R^2 "
        << format_number(r.steps_fit->r_squared, "%.3f") << ", " << r.steps_fit->points << " sizes)\n";
  }
  out << "  noise scale           ";
  if (r.noise_scale.simple_noise_scale) {
    out << "B_simple " << format_number(r.noise_scale.simple_noise_scale, "%.0f") << " ("
        << format_interval(r.noise_scale.low, r.noise_scale.high, "%.0f") << ")\n";
  } else {
    out << describe(r.noise_scale.status) << (r.noise_scale.message.empty() ? "" : ": " + r.noise_scale.message) << '\n';
  }
  out << "  confidence            " << to_string(r.confidence);
  for (std::size_t i = 0; i < r.confidence_notes.size(); ++i) out << (i ? "; " : ": ") << r.confidence_notes[i];
  out << '\n';
  for (const auto& reason : r.reasons) out << "  - " << reason << '\n';
}

std::string variable_size_summary(const Report& r) {
  if (!r.sweep) return {};
  std::string parts;
  const MemoryModel* line = r.probe && !r.probe->worst_case.empty() && r.probe->ranks == 1 && r.probe->memory_model
                                ? &*r.probe->memory_model
                                : nullptr;
  for (const auto& b : r.sweep->summaries) {
    if (!b.padding_share) continue;
    std::string part = std::to_string(b.batch_size) + ": padding " + format_number(100.0 * *b.padding_share, "%.0f") +
                       "%, peak " + format_bytes(b.peak_bytes);
    const double worst = line ? line->fixed_bytes + line->per_sample_bytes * double(b.batch_size) : 0.0;
    if (worst > 0 && b.peak_bytes > 0) {
      part += " = " + format_number(100.0 * double(b.peak_bytes) / worst, "%.0f") + "% of the worst case's";
    }
    parts += (parts.empty() ? "" : "; ") + part;
  }
  if (parts.empty()) return {};
  return "Variable-size batches, each padded to its own largest sample; peak memory against the worst case's (the "
         "probe's memory line at the same size, measured at its worst case, probe.worst_case; an arm also evaluates "
         "and keeps optimizer state): " +
         parts + ".";
}

void render_report_text(std::ostream& out, const Report& r) {
  out << "batchtune report: " << header_line(r) << '\n';
  if (r.recommendation) {
    render_recommendation_text(out, *r.recommendation);
  } else {
    out << "recommendation: none in this report\n";
  }
  if (r.probe) render_probe_text(out, *r.probe);
  if (r.whole_run) {
    render_whole_run_text(out, *r.whole_run);
    if (r.sweep && r.sweep->incomplete) out << "incomplete: " << r.sweep->incomplete_reason << '\n';
  } else if (r.sweep) {
    render_sweep_text(out, *r.sweep);
    if (const auto v = variable_size_summary(r); !v.empty()) out << "  " << v << '\n';
  }
}

void render_report_markdown(std::ostream& out, const Report& r) {
  out << "## batchtune: " << cell(r.workload.model) << " on " << cell(r.workload.data) << "\n\n";
  out << cell(header_line(r)) << "\n\n";
  out << "### Recommendation\n\n";
  if (!r.recommendation) {
    out << "No recommendation in this report.\n\n";
  } else if (!r.recommendation->recommends()) {
    out << "**No recommendation** (objective: " << to_string(r.recommendation->objective)
        << "): no batch size has the evidence for one.\n\n";
    for (const auto& reason : r.recommendation->reasons) out << "- " << reason << '\n';
    out << '\n';
  } else {
    const Recommendation& rec = *r.recommendation;
    out << "**Batch size " << batch_and_accumulation(rec) << ", learning rate " << format_number(rec.learning_rate, "%.4g")
        << "** (objective: " << to_string(rec.objective) << ", confidence: " << to_string(rec.confidence) << ")\n\n";
    out << "| | |\n|---|---|\n";
    out << "| learning rate rule | " << cell(rec.learning_rate_rule) << " |\n";
    out << "| target validation loss | " << format_number(rec.target_loss, "%.4f") << " |\n";
    out << "| predicted time to target | " << format_seconds(rec.predicted_seconds_to_target) << " |\n";
    out << "| measured time to target (interpolated crossing) | " << format_seconds(rec.measured_seconds_to_target)
        << " |\n";
    out << "| " << rec.max_fit_label << " | " << rec.max_fit_batch << " (" << cell(slowdown_sentence(rec)) << ") |\n";
    if (rec.steps_fit) {
      out << "| critical batch (S(B) fit) | " << format_number(rec.steps_fit->critical_batch, "%.0f") << " (R² "
          << format_number(rec.steps_fit->r_squared, "%.3f") << ") |\n";
    }
    out << "| simple noise scale | "
        << (rec.noise_scale.simple_noise_scale
                ? format_number(rec.noise_scale.simple_noise_scale, "%.0f") + " (" +
                      format_interval(rec.noise_scale.low, rec.noise_scale.high, "%.0f") + ")"
                : cell(describe(rec.noise_scale.status)))
        << " |\n\n";
    for (const auto& reason : rec.reasons) out << "- " << reason << '\n';
    for (const auto& note : rec.confidence_notes) out << "- Confidence: " << note << '\n';
    out << '\n';
  }
  if (r.probe) {
    const ProbeResult& p = *r.probe;
    out << "### Memory probe\n\n";
    out << "Largest fitting batch **" << p.largest_fitting_batch << "**" << (p.capped ? " (capped by " + (p.cap_source.empty() ? std::string("--max-batch") : p.cap_source) + ")" : "")
        << ", safe maximum " << p.safe_max_batch << ", in " << format_bytes(p.capacity_bytes) << " ("
        << cell(p.capacity_source) << "); " << p.trials.size() << " trials (" << to_string(p.strategy) << ").";
    if (p.min_batch > 1) {
      out << " Smallest batch " << p.min_batch << ": smaller ones cannot train"
          << (p.min_batch_reason.empty() ? "" : " (" + cell(first_line(p.min_batch_reason)) + ")") << ".";
    }
    out << "\n\n";
  }
  if (r.whole_run) {
    const WholeRun& w = *r.whole_run;
    out << "### Whole run\n\n";
    out << "Planned run: " << cell(w.run.source) << " (" << w.run.train_samples << " samples); target loss "
        << format_number(w.target_loss, "%.4g") << " (" << cell(w.target_source) << "). Trunk at batch " << w.base_batch
        << " for " << w.trunk_samples << " samples; the tune trained " << w.tune_samples << " samples ("
        << format_number(w.run.train_samples > 0 ? 100.0 * double(w.tune_samples) / double(w.run.train_samples) : 0.0, "%.0f")
        << "% of the run) in " << format_seconds(w.tune_seconds) << ".";
    if (r.sweep && r.sweep->incomplete) out << " **Incomplete:** " << cell(r.sweep->incomplete_reason) << ".";
    out << "\n\n| branch point (samples) | loss | B_crit | band | sizes | B_simple |\n|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& p : w.branch_points) {
      out << "| " << p.trunk_samples << " | " << format_number(p.curve_loss.value_or(p.loss), "%.4f") << " | " << (p.lower_bound ? ">= " : "")
          << format_number(p.critical_batch, "%.0f") << " | " << format_number(p.critical_low, "%.0f") << " to "
          << format_number(p.critical_high, "%.0f") << " | " << p.sizes_fitted << " | "
          << format_number(p.simple_noise_scale, "%.0f") << " |\n";
    }
    out << "\nB_crit at the target: " << format_number(w.critical_batch_at_target, "%.0f") << " (from init: "
        << format_number(w.early_critical_batch, "%.0f") << ")";
    if (w.arm_loss_noise && w.noise_draws > 0) {
      out << "; with the arms' noise (" << w.noise_draws << " draws) " << format_number(w.critical_batch_at_target_low, "%.0f")
          << " to " << format_number(w.critical_batch_at_target_high, "%.0f") << ", and the best size is fastest in "
          << format_number(100.0 * w.best_batch_agreement.value_or(0.0), "%.0f") << "% of the draws";
    }
    out << ".\n\n";
    if (!w.predictions.empty()) {
      out << "| batch | lr | predicted steps | step time | predicted run time | interval |\n|---:|---:|---:|---:|---:|---:|\n";
      for (const auto& p : w.predictions) {
        const bool mark = w.best_batch && *w.best_batch == p.batch_size;
        out << "| " << (mark ? "**" : "") << p.batch_size << (mark ? "**" : "") << " | "
            << format_number(p.learning_rate, "%.4g") << " | " << format_number(p.steps, "%.0f") << " | "
            << format_number(1000.0 * p.step_s, "%.3g") << " ms | " << format_seconds(p.seconds) << " | "
            << format_seconds(p.seconds_low) << " to " << format_seconds(p.seconds_high) << " |\n";
      }
      out << '\n';
    }
    if (w.schedule) {
      out << "Batch-size schedule:";
      for (const auto& st : w.schedule->stages) {
        out << (st.from_loss ? " then " + std::to_string(st.batch_size) + " from loss " + format_number(st.from_loss, "%.3f")
                             : " start at " + std::to_string(st.batch_size));
      }
      out << ", predicted " << format_number(100.0 * w.schedule->saving_share, "%.0f") << "% faster.\n\n";
    }
    for (const auto& n : w.notes) out << "- " << cell(n) << '\n';
    if (!w.notes.empty()) out << '\n';
  }
  if (r.sweep && !r.whole_run && is_throughput_only(*r.sweep)) {
    const SweepResult& s = *r.sweep;
    out << "### Throughput only\n\nTimed steps at each size, no training runs";
    if (!s.throughput_knee.empty()) out << " (" << cell(s.throughput_knee) << ")";
    out << ".\n\n| batch | samples/s | step | peak memory | steps timed |\n|---:|---:|---:|---:|---:|\n";
    for (const auto& p : s.throughput_scan) {
      out << "| " << p.batch_size << " | " << format_number(p.samples_per_s, "%.0f") << " | "
          << format_number(1000.0 * p.mean_step_seconds, "%.3g") << " ms | " << format_bytes(p.peak_bytes) << " | "
          << p.timed_steps << " |\n";
    }
    if (s.incomplete) out << "\n**Incomplete:** " << cell(s.incomplete_reason) << ".\n";
    out << '\n';
  } else if (r.sweep && !r.whole_run) {
    const SweepResult& s = *r.sweep;
    out << "### Sweep\n\n";
    out << to_string(s.budget_kind) << " budget " << format_number(s.budget_value, "%.0f") << " per arm, " << s.seeds << " seed"
        << (s.seeds > 1 ? "s" : "") << ", lr scaling " << to_string(s.lr_scaling) << " from batch " << s.base_batch
        << "; target validation loss " << format_number(s.target_loss, "%.4f")
        << (s.target_loss ? " (times to it interpolated between evaluations)." : ".");
    if (s.incomplete) out << " **Incomplete:** " << cell(s.incomplete_reason) << ".";
    if (!s.throughput_knee.empty()) out << " Throughput scan: " << cell(s.throughput_knee) << ".";
    out << "\n\n";
    out << "| batch | lr | done | samples/s | val loss | val acc | time to target | samples to target | peak memory "
           "| train loss | gap |\n";
    out << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    const std::int64_t chosen = r.recommendation ? r.recommendation->batch_size.value_or(-1) : -1;
    for (const auto& b : s.summaries) {
      const bool mark = b.batch_size == chosen;
      out << "| " << (mark ? "**" : "") << b.batch_size << (mark ? "**" : "") << " | "
          << format_number(b.learning_rate, "%.4g") << " | " << b.completed << "/" << b.arms << " | "
          << format_number(mean_of(b.samples_per_s), "%.1f") << " | "
          << format_number(mean_of(b.final_validation_loss), "%.4f") << " | "
          << format_number(mean_of(b.final_validation_accuracy), "%.4f") << " | "
          << format_seconds(mean_of(b.seconds_to_target)) << " | " << format_number(mean_of(b.samples_to_target), "%.0f")
          << " | " << format_bytes(b.peak_bytes) << " | " << format_number(mean_of(b.final_training_loss), "%.4f") << " | "
          << format_number(mean_of(b.generalization_gap), "%+.4f")
          << (b.validation_worse_than_best.value_or(false) ? " (val worse than the best beyond the seed spread)" : "")
          << " |\n";
    }
    if (const auto v = variable_size_summary(r); !v.empty()) out << '\n' << cell(v) << '\n';
    out << "\nTrain loss: the loss on as many training samples as the validation's, at each arm's end (eval mode; "
           "a report from before it was measured: the running training loss over the arm's last fifth of steps); "
           "gap: the final validation loss minus it.\n";
    out << '\n';
    bool any_stopped = false;
    for (const auto& a : s.arms) {
      if (a.status == ArmStatus::completed) continue;
      any_stopped = true;
      out << "- Batch " << a.batch_size << " seed " << a.seed << ": " << nlohmann::json(a.status).get<std::string>()
          << (a.failed_at_step ? " at step " + std::to_string(*a.failed_at_step) : "")
          << (a.message.empty() ? "" : " (" + cell(first_line(a.message)) + ")") << '\n';
    }
    const PhaseSeconds& t = s.phase_seconds;
    if (t.total > 0) {
      out << (any_stopped ? "\n" : "") << "Time: probe " << format_seconds(t.probe) << ", throughput scan "
          << format_seconds(t.throughput_scan) << ", training " << format_seconds(t.training) << ", evaluation "
          << format_seconds(t.evaluation) << ", noise scale " << format_seconds(t.noise_scale) << ", total "
          << format_seconds(t.total) << ".\n\n";
    } else if (any_stopped) {
      out << '\n';
    }
  }
  out << "<sub>batchtune " << cell(r.tool_version) << " (" << cell(r.tool_commit) << ")</sub>\n";
}

}  // namespace batchtune
