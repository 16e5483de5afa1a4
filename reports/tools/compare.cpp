#include "reports/tools/compare.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <set>

#include "reports/util/error.hpp"
#include "reports/util/json_util.hpp"
#include "reports/model/machine_info.hpp"
#include "reports/util/statistics.hpp"
#include "reports/analysis/timing_quality.hpp"
#include "reports/util/units.hpp"

namespace batchtune {
namespace {


std::string shape(const std::vector<std::int64_t>& s) {
  std::string out;
  for (auto d : s) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out;
}

const BatchSummary* summary_at(const SweepResult& s, std::int64_t batch) {
  for (const auto& b : s.summaries) if (b.batch_size == batch) return &b;
  return nullptr;
}

std::string file_stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const auto dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

std::optional<double> ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

}  // namespace

std::vector<std::string> workload_differences(const WorkloadInfo& a, const WorkloadInfo& b) {
  std::vector<std::string> d;
  auto differ = [&d](const char* field, const std::string& x, const std::string& y) {
    if (x != y) d.push_back(std::string(field) + ": " + x + " vs " + y);
  };
  differ("model", a.model, b.model);
  differ("parameter_count", std::to_string(a.parameter_count), std::to_string(b.parameter_count));
  differ("data", a.data, b.data);
  differ("train_samples", std::to_string(a.train_samples), std::to_string(b.train_samples));
  differ("input_shape", shape(a.input_shape), shape(b.input_shape));
  differ("task", a.task, b.task);
  differ("loss", a.loss, b.loss);
  differ("optimizer", a.optimizer, b.optimizer);
  differ("learning_rate", format_number(a.learning_rate, "%g"), format_number(b.learning_rate, "%g"));
  differ("momentum", format_number(a.momentum, "%g"), format_number(b.momentum, "%g"));
  differ("weight_decay", format_number(a.weight_decay, "%g"), format_number(b.weight_decay, "%g"));
  return d;
}

std::vector<double> step_times_at(const SweepResult& sweep, std::int64_t batch_size) {
  std::vector<double> times;
  for (const auto& a : sweep.arms) {
    if (a.batch_size != batch_size) continue;
    const std::vector<double> total = step_total_seconds(a);
    times.insert(times.end(), total.begin(), total.end());
  }
  return times;
}

std::vector<double> step_time_repetitions(const SweepResult& sweep, std::int64_t batch_size) {
  std::vector<double> repetitions;
  for (const auto& a : sweep.arms) {
    if (a.batch_size != batch_size) continue;
    const std::vector<double> blocks = block_means(step_total_seconds(a));
    repetitions.insert(repetitions.end(), blocks.begin(), blocks.end());
  }
  return repetitions;
}

namespace {

// Labels: --label, else the machine; where two coincide, add the file name.
std::vector<std::string> report_labels(const std::vector<Report>& reports, const CompareSettings& settings) {
  std::vector<std::string> labels;
  for (const auto& r : reports) labels.push_back(r.machine ? machine_label(*r.machine) : file_stem(r.path));
  if (!settings.labels.empty()) {
    labels = settings.labels;
  } else {
    std::map<std::string, int> count;
    for (const auto& l : labels) ++count[l];
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (count[labels[i]] > 1) labels[i] += " [" + file_stem(reports[i].path) + "]";
    }
  }
  return labels;
}

// One report's column: its machine, probe, recommendation and timing; a
// warning in c where its timing is unreliable.
ComparedReport compared_report(const Report& r, std::size_t i, const std::vector<std::string>& labels, Comparison& c) {
    ComparedReport cr;
  cr.label = labels[i];
  cr.path = r.path;
  cr.machine = r.machine ? machine_label(*r.machine) : "unknown";
  cr.precision = r.workload.precision;
  cr.device = r.workload.device;
  if (r.machine) cr.torch_threads = r.machine->torch_threads;
  if (r.sweep && r.sweep->data_parallel) cr.world_size = r.sweep->data_parallel->world_size;
  if (r.probe) {
    cr.largest_fitting_batch = r.probe->largest_fitting_batch;
    cr.capacity_bytes = r.probe->capacity_bytes;
    if (r.probe->capped) cr.capped_by = r.probe->cap_source.empty() ? "--max-batch" : r.probe->cap_source;
  }
  if (r.recommendation) cr.recommendation_status = r.recommendation->status;
  if (r.recommendation && r.recommendation->recommends()) {
    cr.recommended_batch = r.recommendation->batch_size;
    cr.recommended_learning_rate = r.recommendation->learning_rate;
    cr.recommended_seconds_to_target = r.recommendation->predicted_seconds_to_target
                                           ? r.recommendation->predicted_seconds_to_target
                                           : r.recommendation->measured_seconds_to_target;
  }
  if (r.sweep) {
    cr.target_loss = r.sweep->target_loss;
    const TimingQuality timing = timing_quality(*r.sweep);
    if (timing.unreliable()) {
      cr.timing_unreliable = short_description(timing);
      c.warnings.push_back("[" + std::to_string(i + 1) + "] " + labels[i] + ": " + describe(timing) +
                           " Verdicts against it are unreliable.");
    }
  }
  if (r.whole_run) {
    cr.whole_run = true;
    cr.target_loss = r.whole_run->target_loss;
    // Its predictions are made of the trunk's and the arms' step clock.
    const TimingQuality timing = timing_quality(*r.whole_run, r.machine);
    if (timing.unreliable() && cr.timing_unreliable.empty()) {
      cr.timing_unreliable = short_description(timing);
      c.warnings.push_back("[" + std::to_string(i + 1) + "] " + labels[i] + ": " + describe(timing) +
                           " Its predicted run times are unreliable.");
    }
  }
  return cr;
}

// Settings that make some figures incomparable are named, not refused.
void note_incomparable_settings(Comparison& c, const std::vector<Report>& reports,
                                const std::vector<std::string>& labels) {
  const Report& first = reports.front();
  for (std::size_t i = 1; i < reports.size(); ++i) {
    const auto& a = first.sweep;
    const auto& b = reports[i].sweep;
    if (a && b && a->target_loss && b->target_loss && *a->target_loss != *b->target_loss) {
      c.notes.push_back(labels[i] + " measured time to target against loss " + format_number(b->target_loss, "%.4f") +
                        ", " + labels[0] + " against " + format_number(a->target_loss, "%.4f") +
                        ": pass the same --target-loss to both sweeps to compare times to target");
    }
    if (a && b && (a->budget_kind != b->budget_kind || a->budget_value != b->budget_value)) {
      c.notes.push_back(labels[i] + " ran a different budget per arm (" + to_string(b->budget_kind) + " " +
                        format_number(b->budget_value, "%g") + " vs " + to_string(a->budget_kind) + " " +
                        format_number(a->budget_value, "%g") + ")");
    }
  }
}

std::optional<double> predicted_at(const Report& r, std::int64_t batch) {
  if (!r.whole_run) return std::nullopt;
  for (const auto& p : r.whole_run->predictions) {
    if (p.batch_size == batch) return p.seconds;
  }
  return std::nullopt;
}
// A throughput-only report's scan point at `batch`: its one mean step.
const ScanPoint* scan_at(const Report& r, std::int64_t batch) {
  if (!r.sweep || !is_throughput_only(*r.sweep)) return nullptr;
  for (const auto& p : r.sweep->throughput_scan) {
    if (p.batch_size == batch && p.samples_per_s > 0) return &p;
  }
  return nullptr;
}

// One batch size across the reports: each cell against the first report's.
ComparedBatch compare_batch(std::int64_t batch, const std::vector<Report>& reports, const Comparison& c,
                            const CompareSettings& settings) {
  const Report& first = reports.front();
  ComparedBatch row;
  row.batch_size = batch;
  const ScanPoint* base_scan = scan_at(first, batch);
  const BatchSummary* base = first.sweep ? summary_at(*first.sweep, batch) : nullptr;
  std::optional<double> base_rate = base && base->samples_per_s ? std::optional<double>(base->samples_per_s->mean)
                                                                 : std::nullopt;
  if (base_scan) base_rate = base_scan->samples_per_s;
  const std::vector<double> base_times = base ? step_times_at(*first.sweep, batch) : std::vector<double>{};
  const std::vector<double> base_reps = base ? step_time_repetitions(*first.sweep, batch) : std::vector<double>{};
  for (std::size_t i = 0; i < reports.size(); ++i) {
    ComparedCell cell;
    cell.predicted_run_seconds = predicted_at(reports[i], batch);
    if (cell.predicted_run_seconds) cell.timing_unreliable = !c.reports[i].timing_unreliable.empty();
    const BatchSummary* s = reports[i].sweep ? summary_at(*reports[i].sweep, batch) : nullptr;
    const ScanPoint* scan = scan_at(reports[i], batch);
    if (scan || (s && base_scan)) {
      // One step clock each side at most: the ratio, no test.
      cell.samples_per_s = scan ? std::optional<double>(scan->samples_per_s)
                           : s->samples_per_s ? std::optional<double>(s->samples_per_s->mean) : std::nullopt;
      const std::vector<double> times = scan ? std::vector<double>{} : step_times_at(*reports[i].sweep, batch);
      cell.step_s = scan ? std::optional<double>(scan->mean_step_seconds) : mean_of(times);
      cell.median_step_s = scan ? std::optional<double>(scan->median_step_seconds) : median_of(times);
      cell.verdict = i == 0 ? CompareVerdict::baseline
                     : (base || base_scan) ? CompareVerdict::untested
                                           : CompareVerdict::not_in_baseline;
      if (i > 0) cell.throughput_ratio = ratio(cell.samples_per_s, base_rate);
      row.cells.push_back(cell);
      continue;
    }
    if (!s) {
      cell.verdict = CompareVerdict::not_run;
      row.cells.push_back(cell);
      continue;
    }
    const std::vector<double> times = step_times_at(*reports[i].sweep, batch);
    const std::vector<double> reps = step_time_repetitions(*reports[i].sweep, batch);
    if (s->samples_per_s) cell.samples_per_s = s->samples_per_s->mean;
    cell.step_s = mean_of(times);
    cell.median_step_s = median_of(times);
    cell.repetitions = int(reps.size());
    if (s->seconds_to_target) cell.seconds_to_target = s->seconds_to_target->mean;
    cell.timing_unreliable = i > 0 && (!c.reports[i].timing_unreliable.empty() || !c.reports[0].timing_unreliable.empty());
    if (i == 0) {
      cell.verdict = CompareVerdict::baseline;
    } else if (!base) {
      cell.verdict = CompareVerdict::not_in_baseline;
    } else {
      cell.throughput_ratio = ratio(cell.samples_per_s, base->samples_per_s ? std::optional<double>(base->samples_per_s->mean) : std::nullopt);
      cell.time_to_target_ratio = ratio(cell.seconds_to_target, base->seconds_to_target ? std::optional<double>(base->seconds_to_target->mean) : std::nullopt);
      const auto test = mann_whitney_u(reps, base_reps);
      if (!test) {
        cell.verdict = CompareVerdict::too_few_repetitions;
      } else {
        cell.p_value = test->p_value;
        cell.unreliable = std::min(test->n1, test->n2) < kReliableRepetitions;
        const auto base_clock = mean_of(base_times);
        if (test->p_value >= settings.alpha || !cell.step_s || !base_clock) {
          cell.verdict = CompareVerdict::within_noise;
        } else {
          cell.verdict = *cell.step_s < *base_clock ? CompareVerdict::faster : CompareVerdict::slower;
        }
      }
    }
    row.cells.push_back(cell);
  }
  return row;
}

// Sizes where a side has too few repetitions for its verdict.
void warn_thin(Comparison& c) {
  std::string thin;
  for (const auto& row : c.batches) {
    bool few = false;
    for (const auto& cell : row.cells) {
      few = few || cell.unreliable || cell.verdict == CompareVerdict::too_few_repetitions;
    }
    if (few) thin += (thin.empty() ? "" : ", ") + std::to_string(row.batch_size);
  }
  if (!thin.empty()) {
    c.warnings.push_back("fewer than " + std::to_string(kReliableRepetitions) + " repetitions (blocks of " +
                         std::to_string(kStepsPerBlock) + " steps) on a side at batch size(s) " + thin +
                         ": their verdicts are unreliable; run longer arms (--budget) or more --seeds");
  }
}

}  // namespace

Comparison compare_reports(const std::vector<Report>& reports, const CompareSettings& settings) {
  if (reports.size() < 2) throw UsageError("compare needs at least two reports; give two or more files");
  if (!settings.labels.empty() && settings.labels.size() != reports.size()) {
    throw UsageError("--label given " + std::to_string(settings.labels.size()) + " times for " +
                     std::to_string(reports.size()) + " reports; give one label per report, in order");
  }
  Comparison c;
  c.forced = settings.force;
  c.alpha = settings.alpha;
  const Report& first = reports.front();
  for (std::size_t i = 1; i < reports.size(); ++i) {
    for (const auto& d : workload_differences(first.workload, reports[i].workload)) {
      c.workload_differences.push_back(reports[i].path + " differs from " + first.path + " in " + d);
    }
  }
  if (!c.workload_differences.empty() && !settings.force) {
    throw UsageError("the reports train different workloads (" + c.workload_differences.front() +
                     (c.workload_differences.size() > 1
                          ? ", and " + std::to_string(c.workload_differences.size() - 1) + " more difference(s)"
                          : std::string()) +
                     "); their figures do not compare; pass --force to put them side by side anyway");
  }

  const std::vector<std::string> labels = report_labels(reports, settings);
  for (std::size_t i = 0; i < reports.size(); ++i) c.reports.push_back(compared_report(reports[i], i, labels, c));
  for (auto& cr : c.reports) {
    if (cr.largest_fitting_batch && c.reports.front().largest_fitting_batch) {
      cr.largest_fitting_ratio = double(*cr.largest_fitting_batch) / double(*c.reports.front().largest_fitting_batch);
    }
    cr.recommended_time_ratio = ratio(cr.recommended_seconds_to_target, c.reports.front().recommended_seconds_to_target);
  }

  note_incomparable_settings(c, reports, labels);

  std::set<std::int64_t> sizes;
  for (const auto& r : reports) {
    if (r.sweep) for (const auto& b : r.sweep->summaries) sizes.insert(b.batch_size);
    if (r.sweep && is_throughput_only(*r.sweep)) for (const auto& p : r.sweep->throughput_scan) sizes.insert(p.batch_size);
    if (r.whole_run) for (const auto& p : r.whole_run->predictions) sizes.insert(p.batch_size);
  }
  for (std::int64_t batch : sizes) c.batches.push_back(compare_batch(batch, reports, c, settings));
  warn_thin(c);
  return c;
}

nlohmann::ordered_json comparison_to_json(const Comparison& c) {
  nlohmann::ordered_json j;
  j["comparison_version"] = 1;
  j["alpha"] = c.alpha;
  j["forced"] = c.forced;
  j["workload_differences"] = c.workload_differences;
  j["notes"] = c.notes;
  j["warnings"] = c.warnings;
  j["steps_per_repetition"] = kStepsPerBlock;
  j["reliable_repetitions"] = kReliableRepetitions;
  j["reports"] = nlohmann::ordered_json::array();
  for (const auto& r : c.reports) {
    j["reports"].push_back(nlohmann::ordered_json{
        {"label", r.label},
        {"path", r.path},
        {"machine", r.machine},
        {"device", r.device},
        {"precision", r.precision},
        {"torch_threads", r.torch_threads},
        {"world_size", r.world_size},
        {"capacity_bytes", r.capacity_bytes},
        {"largest_fitting_batch", r.largest_fitting_batch},
        {"largest_fitting_ratio", r.largest_fitting_ratio},
        {"largest_fitting_capped_by", r.capped_by},
        {"recommendation_status", r.recommendation_status ? nlohmann::ordered_json(*r.recommendation_status)
                                                          : nlohmann::ordered_json("absent")},
        {"recommended_batch_size", r.recommended_batch},
        {"recommended_learning_rate", r.recommended_learning_rate},
        {"recommended_seconds_to_target", r.recommended_seconds_to_target},
        {"recommended_time_ratio", r.recommended_time_ratio},
        {"target_loss", r.target_loss},
        {"timing_unreliable", r.timing_unreliable.empty() ? nlohmann::ordered_json(nullptr)
                                                          : nlohmann::ordered_json(r.timing_unreliable)}});
  }
  j["batch_sizes"] = nlohmann::ordered_json::array();
  for (const auto& b : c.batches) {
    nlohmann::ordered_json row;
    row["batch_size"] = b.batch_size;
    row["reports"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < b.cells.size(); ++i) {
      const auto& cell = b.cells[i];
      row["reports"].push_back(nlohmann::ordered_json{
          {"label", c.reports[i].label},
          {"samples_per_s", cell.samples_per_s},
          {"step_s", cell.step_s},
          {"median_step_s", cell.median_step_s},
          {"repetitions", cell.repetitions},
          {"throughput_ratio", cell.throughput_ratio},
          {"p_value", cell.p_value},
          {"unreliable", cell.unreliable},
          {"timing_unreliable", cell.timing_unreliable},
          {"verdict", cell.verdict},
          {"seconds_to_target", cell.seconds_to_target},
          {"time_to_target_ratio", cell.time_to_target_ratio},
          {"predicted_run_seconds", cell.predicted_run_seconds}});
    }
    j["batch_sizes"].push_back(row);
  }
  return j;
}

namespace {

std::string opt_int(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "-"; }

std::string ratio_text(const std::optional<double>& r) { return r ? format_number(r, "%.2fx") : "-"; }

std::string cell_text(const ComparedCell& cell) {
  if (cell.verdict == CompareVerdict::not_run) return "not run";
  std::string s = format_number(cell.samples_per_s, "%.1f");
  if (cell.verdict == CompareVerdict::untested || (cell.verdict == CompareVerdict::baseline && cell.repetitions == 0)) {
    // A scan point: one mean step, no repetitions to test.
    return s + (cell.throughput_ratio ? " (" + ratio_text(cell.throughput_ratio) + ", " + to_string(cell.verdict) + ")"
                                      : cell.verdict == CompareVerdict::baseline ? std::string() : " (" + to_string(cell.verdict) + ")");
  }
  const std::string reps = std::to_string(cell.repetitions) + " reps" + (cell.unreliable ? ", unreliable" : "") +
                           (cell.timing_unreliable ? ", timing unreliable" : "");
  const std::string verdict = to_string(cell.verdict);
  if (cell.throughput_ratio) s += " (" + ratio_text(cell.throughput_ratio) + ", " + verdict + ", " + reps + ")";
  else if (cell.verdict != CompareVerdict::baseline) s += " (" + verdict + ", " + reps + ")";
  else s += " (" + reps + ")";
  return s;
}

std::string recommendation_text(const ComparedReport& r) {
  if (r.recommended_batch) {
    return "batch " + std::to_string(*r.recommended_batch) + ", lr " + format_number(r.recommended_learning_rate, "%.4g");
  }
  return r.recommendation_status == RecommendationStatus::none ? "none (no batch size had the evidence)"
                                                               : "none in the report";
}

}  // namespace

void render_comparison_text(std::ostream& out, const Comparison& c) {
  out << "compare: " << c.reports.size() << " reports, ratios against the first; U test on block means of the step "
      << "times (data + compute, " << kStepsPerBlock << " steps a repetition), alpha " << format_number(c.alpha, "%g")
      << '\n';
  for (std::size_t i = 0; i < c.reports.size(); ++i) {
    const auto& r = c.reports[i];
    out << "  [" << i + 1 << "] " << r.label << ": " << r.path << " (" << r.device << ", " << r.precision
        << (r.torch_threads ? ", " + std::to_string(*r.torch_threads) + " threads" : std::string())
        << (r.world_size > 1 ? ", " + std::to_string(r.world_size) + " ranks data-parallel (global batches)" : std::string())
        << ")\n";
  }
  for (const auto& d : c.workload_differences) out << "  WORKLOADS DIFFER (--force): " << d << '\n';
  for (const auto& n : c.notes) out << "  note: " << n << '\n';
  for (const auto& w : c.warnings) out << "  warning: " << w << '\n';
  out << "largest fitting batch\n";
  for (std::size_t i = 0; i < c.reports.size(); ++i) {
    const auto& r = c.reports[i];
    out << "  [" << i + 1 << "] " << pad(opt_int(r.largest_fitting_batch), 8)
        << (r.capacity_bytes ? " in " + format_bytes(*r.capacity_bytes) : std::string())
        << (i ? "  " + ratio_text(r.largest_fitting_ratio) : std::string())
        << (r.capped_by.empty() ? std::string() : "  (capped by " + r.capped_by + ": at least this)") << '\n';
  }
  out << "recommendation\n";
  for (std::size_t i = 0; i < c.reports.size(); ++i) {
    const auto& r = c.reports[i];
    out << "  [" << i + 1 << "] " << recommendation_text(r);
    if (!r.recommended_batch) {
      out << '\n';
      continue;
    }
    out << ", time to target " << format_seconds(r.recommended_seconds_to_target)
        << (i && r.recommended_time_ratio ? " (" + ratio_text(r.recommended_time_ratio) + ")" : std::string()) << '\n';
  }
  out << "samples/s by batch size (ratio, verdict)\n";
  for (const auto& b : c.batches) {
    out << "  " << pad(std::to_string(b.batch_size), 8);
    for (std::size_t i = 0; i < b.cells.size(); ++i) out << "  [" << i + 1 << "] " << cell_text(b.cells[i]);
    out << '\n';
  }
  const bool any_predicted = std::any_of(c.batches.begin(), c.batches.end(), [](const ComparedBatch& b) {
    return std::any_of(b.cells.begin(), b.cells.end(), [](const ComparedCell& x) { return x.predicted_run_seconds.has_value(); });
  });
  if (any_predicted) {
    // The whole-run tune's prediction beside what another report measured
    // (full runs, e.g. sweep --budget samples=RUN --target-loss L).
    out << "whole run: predicted beside measured (each report's target:";
    for (std::size_t i = 0; i < c.reports.size(); ++i) {
      out << " [" << i + 1 << "] " << format_number(c.reports[i].target_loss, "%.4g");
    }
    out << ")\n";
    for (const auto& b : c.batches) {
      out << "  " << pad(std::to_string(b.batch_size), 8);
      for (std::size_t i = 0; i < b.cells.size(); ++i) {
        const auto& x = b.cells[i];
        out << "  [" << i + 1 << "] "
            << (x.predicted_run_seconds ? format_seconds(x.predicted_run_seconds) + " predicted" +
                                              (x.timing_unreliable ? " (timing unreliable)" : "")
                                        : format_seconds(x.seconds_to_target) + " measured");
      }
      out << '\n';
    }
  }
  const bool any_target = std::any_of(c.batches.begin(), c.batches.end(), [](const ComparedBatch& b) {
    return std::any_of(b.cells.begin(), b.cells.end(), [](const ComparedCell& x) { return x.seconds_to_target.has_value(); });
  });
  if (!any_target) {
    out << "time to target by batch size: none measured (no report reached a target loss)\n";
    return;
  }
  out << "time to target by batch size\n";
  for (const auto& b : c.batches) {
    out << "  " << pad(std::to_string(b.batch_size), 8);
    for (std::size_t i = 0; i < b.cells.size(); ++i) {
      out << "  [" << i + 1 << "] " << format_seconds(b.cells[i].seconds_to_target);
      if (b.cells[i].time_to_target_ratio) out << " (" << ratio_text(b.cells[i].time_to_target_ratio) << ")";
    }
    out << '\n';
  }
}

void render_comparison_markdown(std::ostream& out, const Comparison& c) {
  out << "## batchtune compare\n\n";
  out << "Ratios against the first report. A Mann-Whitney U test on block means of the step times (data + compute, "
      << kStepsPerBlock << " steps a repetition) marks differences at p < " << format_number(c.alpha, "%g")
      << " as faster or slower, others as within noise.\n\n";
  for (const auto& d : c.workload_differences) out << "- **Workloads differ** (compared with --force): " << d << '\n';
  for (const auto& n : c.notes) out << "- Note: " << n << '\n';
  for (const auto& w : c.warnings) out << "- **Warning:** " << w << '\n';
  if (!c.workload_differences.empty() || !c.notes.empty() || !c.warnings.empty()) out << '\n';
  out << "| | report | device | precision | largest fitting batch | recommended batch | time to target |\n";
  out << "|---|---|---|---|---:|---:|---:|\n";
  for (std::size_t i = 0; i < c.reports.size(); ++i) {
    const auto& r = c.reports[i];
    out << "| " << i + 1 << " | " << r.label << " | " << r.device << " | " << r.precision << " | "
        << opt_int(r.largest_fitting_batch) << (r.capped_by.empty() ? "" : "+")
        << (i ? " (" + ratio_text(r.largest_fitting_ratio) + ")" : std::string())
        << " | " << (r.recommended_batch ? std::to_string(*r.recommended_batch) : std::string("none")) << " | "
        << format_seconds(r.recommended_seconds_to_target)
        << (i && r.recommended_time_ratio ? " (" + ratio_text(r.recommended_time_ratio) + ")" : std::string()) << " |\n";
  }
  out << "\n| batch |";
  for (std::size_t i = 0; i < c.reports.size(); ++i) out << " [" << i + 1 << "] samples/s |";
  out << "\n|---:|";
  for (std::size_t i = 0; i < c.reports.size(); ++i) out << "---:|";
  out << '\n';
  for (const auto& b : c.batches) {
    out << "| " << b.batch_size << " |";
    for (const auto& cell : b.cells) out << " " << cell_text(cell) << " |";
    out << '\n';
  }
  out << '\n';
}

}  // namespace batchtune
