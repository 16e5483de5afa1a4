// `batchtune report FILE [--markdown F] [--html F]`: re-render a saved report
// (the console table on stdout; Markdown and a self-contained HTML page with
// charts to files).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>

#include "reports/util/atomic_file.hpp"
#include "reports/tools/check.hpp"
#include "reports/util/error.hpp"
#include "reports/run_analysis/predict_run.hpp"
#include "reports/analysis/recommend.hpp"

#include "reports/render/render_text.hpp"
#include "reports/util/statistics.hpp"
#include "reports/render/report_outputs.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/output_plan.hpp"
#include "tuner/cli/option_text.hpp"

namespace batchtune {
namespace {

struct ReportOptions {
  std::string file;
  RenderTargets targets;
  std::string objective;
  std::int64_t effective_batch = 0;
  std::string max_val_loss_excess;
  std::string output;
  std::string step_times;
  std::optional<double> target_loss;
  std::optional<double> target_accuracy;
  bool retarget() const { return target_loss || target_accuracy; }
};

// `--target-loss L` / `--target-accuracy A`: the recommendation for another
// target, recomputed from the saved measurements (a whole-run tune's trunk
// and arms, or a sweep's evaluations); nothing is trained again.
void retarget(Report& r, const ReportOptions& o) {
  const bool incomplete = r.sweep && r.sweep->incomplete;
  if (incomplete) {
    throw InputError(o.file + ": is an incomplete report (" + r.sweep->incomplete_reason +
                     "); a new target needs the complete measurements: run the sweep again to the end");
  }
  if (r.whole_run) {
    WholeRun& w = *r.whole_run;
    w.run.target_loss = o.target_loss;
    w.run.target_accuracy = o.target_accuracy;
    const bool has_accuracy =
        std::any_of(w.trunk.begin(), w.trunk.end(), [](const TrunkPoint& t) { return t.accuracy.has_value(); });
    if (o.target_accuracy && !has_accuracy) {
      throw UsageError("--target-accuracy: " + o.file + "'s workload (" + r.workload.task +
                       ") has no accuracy in its measurements; give --target-loss");
    }
    std::int64_t largest = 0;
    std::vector<std::int64_t> sizes;
    for (const auto& [b, t] : w.step_seconds) sizes.push_back(b);
    std::sort(sizes.begin(), sizes.end());
    if (r.probe && r.probe->safe_max_batch > 0) {
      largest = r.probe->safe_max_batch;
      sizes.erase(std::remove_if(sizes.begin(), sizes.end(), [&](std::int64_t b) { return b > largest; }),
                  sizes.end());
    } else if (!sizes.empty()) {
      largest = sizes.back();
    }
    analyse_whole_run(w, sizes);
    r.recommendation = recommend_whole_run(w, largest, r.probe && r.probe->capped);
    return;
  }
  if (!r.sweep || r.sweep->arms.empty()) {
    throw InputError(o.file + ": has no sweep arms to read a new target from (a probe or throughput-only report)");
  }
  if (o.target_accuracy) {
    throw UsageError("--target-accuracy re-targets a whole-run report (sweep --epochs); for this sweep give "
                     "--target-loss");
  }
  give_target(*r.sweep, *o.target_loss);  // retarget() runs with one of the two, and not the accuracy here
  summarise_targets(*r.sweep);
}

// `--step-times OTHER.json`: the convergence measured here, the step times
// measured there. Convergence is the workload's and step time the machine's,
// so the whole run is predicted for the other machine without training on it.
void predict_with_step_times(Report& r, const ReportOptions& o) {
  if (!r.whole_run) {
    throw InputError(o.file + ": has no whole_run section to predict from; make one with `batchtune sweep --epochs E` "
                              "(or --train-samples N)");
  }
  const Report other = read_report(o.step_times);
  if (other.workload.model != r.workload.model || other.workload.input_shape != r.workload.input_shape) {
    throw InputError("--step-times " + o.step_times + ": its workload (" + other.workload.model + " on " +
                     other.workload.data + ") is not " + o.file + "'s (" + r.workload.model + " on " +
                     r.workload.data + "); step times carry over only for the same model and input shape");
  }
  std::vector<std::pair<std::int64_t, double>> steps;
  if (other.whole_run && !other.whole_run->step_seconds.empty()) {
    steps = other.whole_run->step_seconds;
  } else if (other.sweep) {
    for (const auto& p : other.sweep->throughput_scan) {
      if (p.mean_step_seconds > 0) steps.emplace_back(p.batch_size, p.mean_step_seconds);
    }
  }
  if (steps.empty() && other.sweep) {
    // A sweep's arms: each size's step clock, the mean over its completed arms (seeds).
    std::map<std::int64_t, std::vector<double>> by_size;
    for (const auto& a : other.sweep->arms) {
      const auto clock = step_clock_seconds(a);
      if (a.status == ArmStatus::completed && clock && *clock > 0) by_size[a.batch_size].push_back(*clock);
    }
    for (auto& [b, times] : by_size) steps.emplace_back(b, *mean_of(times));
  }
  if (steps.empty()) {
    throw InputError("--step-times " + o.step_times + ": has no step times (a throughput scan, a whole-run tune or "
                     "a sweep's completed arms); make one on that machine with `batchtune sweep --throughput-only`");
  }
  std::sort(steps.begin(), steps.end());
  std::int64_t largest = steps.back().first;
  if (other.probe && other.probe->safe_max_batch > 0) largest = std::min(largest, other.probe->safe_max_batch);
  std::vector<std::int64_t> sizes;
  for (const auto& [b, t] : steps) {
    if (b <= largest) sizes.push_back(b);
  }
  // Measured data-parallel (`sweep --throughput-only` under a launch): the
  // sizes are global batches on that world size, and the probe's safe
  // maximum is the smallest rank's micro-batch x the ranks.
  const DataParallelInfo* ranks =
      other.sweep && other.sweep->data_parallel && other.sweep->data_parallel->world_size > 1
          ? &*other.sweep->data_parallel
          : nullptr;
  WholeRun w = *r.whole_run;
  w.step_seconds = steps;
  w.other_cpu_cores.reset();  // this machine's load says nothing of the other's step times
  std::string where;
  if (other.machine) where = other.machine->host_name + ", " + other.machine->cpu_model;
  if (ranks) {
    where += (where.empty() ? "" : "; ") + std::string("data-parallel over ") + std::to_string(ranks->world_size) +
             " ranks, " + ranks->backend + ", global batches";
  }
  if (other.sweep && other.sweep->incomplete) where += (where.empty() ? "" : "; ") + std::string("incomplete: ") + other.sweep->incomplete_reason;
  w.step_times_source = "--step-times " + o.step_times + (where.empty() ? "" : " (" + where + ")");
  analyse_whole_run(w, sizes);
  r.whole_run = w;
  r.recommendation = recommend_whole_run(w, largest, other.probe && other.probe->capped);
  if (ranks && r.recommendation->batch_size) split_over_ranks(*r.recommendation, *ranks);
}

// Recompute the recommendation for another objective from the saved sweep
// (the noise scale measured then is kept); -o saves the result.
void recommend_again(Report& r, const ReportOptions& o, Io io, bool sweep_changed = false) {
  if (!r.sweep) throw InputError(o.file + ": has no sweep section to recommend from");
  NoiseScale noise;
  noise.status = NoiseScaleStatus::not_measured;
  noise.message = "not in the saved report";
  if (r.recommendation) noise = r.recommendation->noise_scale;
  RecommendSettings settings;
  if (sweep_changed && r.recommendation) {
    // A new target alone keeps the saved recommendation's own settings.
    settings.objective = r.recommendation->objective;
    settings.max_validation_loss_excess = r.recommendation->validation_loss_tolerance;
  }
  if (!o.objective.empty()) settings.objective = parse_objective(o.objective).value();  // IsMember checked it
  if (o.effective_batch > 0) settings.effective_batch = o.effective_batch;
  if (!o.max_val_loss_excess.empty()) {
    settings.max_validation_loss_excess = parse_percent(o.max_val_loss_excess, "--max-val-loss-excess");
  }
  r.recommendation = recommend(*r.sweep, r.probe ? &*r.probe : nullptr, r.workload, noise, settings);
  if (o.output.empty()) return;
  std::ifstream in(o.file, std::ios::binary);
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(in);  // read_report has checked and parsed it once
  // The new recommendation is the current schema's: an older report is
  // written back upgraded (its probe and sweep re-serialised from the
  // upgraded model; the other sections did not change between versions).
  if (r.schema_version != kReportSchemaVersion) {
    json["schema_version"] = kReportSchemaVersion;
    if (r.probe) json["probe"] = nlohmann::json(*r.probe);
  }
  if (r.schema_version != kReportSchemaVersion || sweep_changed) json["sweep"] = nlohmann::json(*r.sweep);
  json["recommendation"] = nlohmann::json(*r.recommendation);
  write_file_atomically(o.output, json.dump(2) + "\n");
  io.err << "wrote " << o.output << '\n';
}

// -o for a recomputed whole run: the saved report with its whole_run and
// recommendation replaced (the other sections as they were).
void write_whole_run(const Report& r, const ReportOptions& o, Io io) {
  std::ifstream in(o.file, std::ios::binary);
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(in);  // read_report has checked and parsed it once
  json["whole_run"] = nlohmann::json(*r.whole_run);
  json["recommendation"] = nlohmann::json(*r.recommendation);
  write_file_atomically(o.output, json.dump(2) + "\n");
  io.err << "wrote " << o.output << '\n';
}

void run_report(const ReportOptions& o, Io io) {
  const bool recompute = !o.objective.empty() || o.effective_batch > 0 || !o.max_val_loss_excess.empty();
  if (!o.output.empty() && !recompute && o.step_times.empty() && !o.retarget()) {
    throw UsageError("-o writes a recomputed report: give --target-loss, --target-accuracy, --objective, "
                     "--effective-batch, --max-val-loss-excess or --step-times too");
  }
  if (o.target_loss && o.target_accuracy) {
    throw UsageError("--target-loss and --target-accuracy: give one target");
  }
  // Outputs never replace the reports being read, nor each other.
  std::vector<NamedPath> inputs{{"FILE", o.file}};
  if (!o.step_times.empty()) inputs.push_back({"--step-times", o.step_times});
  check_outputs({{"-o", o.output}, {"--html", o.targets.html}, {"--markdown", o.targets.markdown}}, inputs);
  Report r = read_report(o.file);
  if (o.retarget()) {
    if (r.whole_run && recompute) {
      throw UsageError("--objective, --effective-batch and --max-val-loss-excess recompute a sweep's "
                       "recommendation; a whole-run report is re-targeted with --target-loss or "
                       "--target-accuracy alone");
    }
    retarget(r, o);
  }
  if (o.retarget() && o.step_times.empty()) {
    if (!r.whole_run) recommend_again(r, o, io, /*sweep_changed=*/true);
    if (r.whole_run && !o.output.empty()) write_whole_run(r, o, io);
  } else if (!o.step_times.empty()) {
    if (recompute) {
      throw UsageError("--step-times predicts the planned run for another machine; it does not combine with "
                       "--objective, --effective-batch or --max-val-loss-excess");
    }
    predict_with_step_times(r, o);
    if (!o.output.empty()) write_whole_run(r, o, io);
  } else if (recompute) {
    recommend_again(r, o, io);
  }
  if (o.targets.console_to_stdout()) render_report_text(io.out, r);
  io.err << write_renderings(r, o.targets, io.out);
}

}  // namespace

void add_render_options(CLI::App& sub, RenderTargets& targets) {
  sub.add_option("--markdown", targets.markdown,
                 "Also write the report as Markdown (for a CI job summary) to this file; '-' for stdout")
      ->check(non_empty_path());
  sub.add_option("--html", targets.html, "Also write a self-contained HTML page with charts to this file")
      ->check(non_empty_path());
}

void setup_report(CLI::App& app, Io io) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* sub = app.add_subcommand("report", "Re-render a saved report: tables, Markdown, an HTML page with charts");
  sub->add_option("file", o->file, "The report (JSON) written by sweep")->required();
  add_render_options(*sub, o->targets);
  sub->add_option("--objective", o->objective,
                  "Recompute the recommendation from the saved sweep for this objective: time-to-target, "
                  "throughput, sample-efficiency or max-fit")
      ->check(CLI::IsMember(recommendation_objectives()));
  sub->add_option("--effective-batch", o->effective_batch,
                  "Recompute the recommendation as a plan for this effective batch (micro-batch x accumulation "
                  "steps above the safe maximum)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  sub->add_option("--max-val-loss-excess", o->max_val_loss_excess,
                  "Recompute the recommendation refusing sizes whose final validation loss is more than this much "
                  "above the best size's (a percentage such as 2%)");
  sub->add_option("--step-times", o->step_times,
                  "Another machine's report (sweep --throughput-only there): predict FILE's planned run (a sweep "
                  "--epochs report) with that machine's step times, and recommend for it without training there");
  sub->add_option_function<double>(
         "--target-loss", [o](const double& v) { o->target_loss = v; },
         "Recompute the recommendation for this target validation loss from the saved measurements (a whole-run "
         "tune's trunk and arms, or a sweep's evaluations); nothing is trained again")
      ->check(CLI::PositiveNumber);
  sub->add_option_function<double>(
         "--target-accuracy", [o](const double& v) { o->target_accuracy = v; },
         "Recompute a whole-run report's recommendation for this target validation accuracy (0-1)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("-o,--output", o->output,
                  "With --target-loss, --target-accuracy, --objective, --effective-batch or --step-times: write "
                  "the report with the new recommendation here")
      ->check(non_empty_path());
  sub->callback([o, io] { run_report(*o, io); });
}

}  // namespace batchtune
