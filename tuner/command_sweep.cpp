// `batchtune sweep`: probe, then short training runs at each feasible batch
// size, measured fairly, written as a report. With no options it is the main
// job: mlp on Fashion-MNIST, about a minute on a 2-core CPU.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <ostream>

#include "reports/atomic_file.hpp"
#include "probes/oom.hpp"
#include "reports/error.hpp"
#include "reports/machine_info.hpp"
#include "reports/render_text.hpp"
#include "reports/report_outputs.hpp"
#include "tuner/cli.hpp"
#include "tuner/interrupt.hpp"
#include "tuner/machine_probe.hpp"
#include "tuner/output_plan.hpp"
#include "tuner/throughput_scan.hpp"
#include "tuner/noise_scale.hpp"
#include "tuner/probe_options.hpp"
#include "tuner/report_builder.hpp"
#include "tuner/sweep.hpp"
#include "tuner/workload_options.hpp"

namespace batchtune {
namespace {

struct SweepOptions {
  WorkloadArgs workload;
  ProbeArgs probe;
  std::string batch_sizes = "auto";
  std::string budget;
  std::string lr_scaling;
  std::int64_t base_batch = 64;
  double warmup = 0.05;
  int seeds = 1;
  std::int64_t eval_every = 0;
  std::int64_t eval_samples = 0;  // 0: scaled to the budget
  double target_loss = 0;
  bool target_given = false;
  bool force = false;
  std::string objective = "time-to-target";
  std::int64_t effective_batch = 0;
  int noise_repeats = 16;
  std::string output = "batchtune-report.json";
  RenderTargets renderings;
};

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// The default validation size per evaluation scales with the budget: six
// evaluations of 5,000 samples cost more than 12,000 training samples. An
// eighth of the budget's samples, between 500 and 5,000.
std::int64_t default_eval_samples(const std::string& kind, double value, std::int64_t smallest_batch) {
  double samples = 5000;
  if (kind == "samples") samples = value / 8;
  if (kind == "steps") samples = value * double(smallest_batch) / 8;
  return static_cast<std::int64_t>(std::clamp(samples, 500.0, 5000.0));
}

void run_sweep_command(const SweepOptions& o, Io io) {
  const auto started = clock_type::now();
  // Every output is checked before any work: nothing measured is lost to a
  // path found unwritable at the end.
  check_outputs({{"-o", o.output}, {"--html", o.renderings.html}, {"--markdown", o.renderings.markdown}},
                model_and_data_inputs(o.workload));
  ProbeSettings probe_settings = o.probe.to_settings();
  const bool auto_sizes = o.batch_sizes == "auto";
  std::vector<std::int64_t> sizes;
  if (!auto_sizes) sizes = parse_batch_sizes(o.batch_sizes);

  SweepSettings s;
  if (!o.budget.empty()) std::tie(s.budget_kind, s.budget_value) = parse_budget(o.budget);
  // A list is checked against a samples budget before anything is loaded.
  if (!auto_sizes && s.budget_kind == "samples" && s.budget_value > 0 && s.budget_value < double(sizes.back())) {
    throw UsageError("--budget " + o.budget + " is smaller than one batch of " + std::to_string(sizes.back()) +
                     " (--batch-sizes); give at least that many samples or drop the size");
  }
  const Workload workload = Workload::create(o.workload.to_spec());
  const auto train_size = workload.data().train.size();
  if (o.budget.empty()) {
    s.budget_kind = "samples";
    s.budget_value = double(std::min<std::int64_t>(train_size, 12000));
  }
  if (!auto_sizes && sizes.back() > train_size) {
    throw UsageError("--batch-sizes " + std::to_string(sizes.back()) + " is larger than the training set (" +
                     std::to_string(train_size) + " samples of --data " + workload.spec().data + ")");
  }
  s.lr_scaling = !o.lr_scaling.empty() ? o.lr_scaling : workload.optimizer().kind == OptimizerKind::sgd ? "linear" : "sqrt";
  s.base_batch = o.base_batch;
  s.warmup_share = s.lr_scaling == "none" ? 0.0 : o.warmup;
  s.seeds = o.seeds;
  s.precision = precision_name(workload.precision());
  if (o.target_given) s.target_loss = o.target_loss;

  // Never search above what a sweep could run: the training set, --max-batch
  // and a samples budget (an arm needs at least one whole batch).
  std::int64_t cap = probe_settings.search.max_batch;
  std::string cap_source = "--max-batch";
  if (train_size < cap) {
    cap = train_size;
    cap_source = "the training set (" + std::to_string(train_size) + " samples)";
  }
  if (s.budget_kind == "samples" && static_cast<std::int64_t>(s.budget_value) < cap) {
    cap = static_cast<std::int64_t>(s.budget_value);
    cap_source = "the samples budget (" + std::to_string(cap) + " per arm)";
  }
  if (cap < probe_settings.search.multiple_of) {
    throw UsageError("--multiple-of " + std::to_string(probe_settings.search.multiple_of) + " is above " + cap_source +
                     "; no batch size can be swept");
  }
  probe_settings.search.max_batch = cap;

  const std::atomic<bool>& stop = InterruptGuard::flag();
  SweepResult result;
  std::optional<ProbeResult> probe;
  // The report as it stands, for the watchdog to write if a signal comes
  // during a step too long to wait for.
  auto checkpoint = [&](const ProbeResult* p, const SweepResult& so_far, const std::string& what) {
    InterruptGuard::checkpoint(o.output, build_report(workload, p, &so_far).dump(2) + "\n", what);
  };
  auto incomplete_sweep = [&](const std::string& why) {
    SweepResult r = result;
    r.incomplete = true;
    r.incomplete_reason = why;
    r.phase_seconds.total = seconds_since(started);
    return r;
  };
  // Interrupted before the arms: write what the probe measured and stop.
  auto stop_before_arms = [&](const ProbeResult* p, const std::string& phase) {
    const std::string why = "interrupted by " + InterruptGuard::signal_name() + " during " + phase;
    const SweepResult r = incomplete_sweep(why + "; no arm ran");
    InterruptGuard::begin_final_write();
    try {
      write_report_or_rescue(o.output, build_report(workload, p, &r).dump(2) + "\n");
    } catch (...) {
      InterruptGuard::end_final_write();
      throw;
    }
    InterruptGuard::end_final_write();
    throw Error(ExitCode::interrupted, why + "; the report in " + o.output + " holds what was measured and is marked incomplete");
  };
  checkpoint(nullptr, incomplete_sweep("interrupted before the probe"), "the set-up");

  std::unique_ptr<probes::MemoryMeter> meter;
  if (!(o.force && !auto_sizes)) {
    // `auto`: first the throughput scan, which bounds the sizes worth
    // sweeping; then the probe verifies memory up to the largest of them.
    if (auto_sizes) {
      const auto scan_start = clock_type::now();
      ScanResult scan;
      {
        auto scan_meter = make_meter(workload, probe_settings.memory_limit_bytes);
        ScanSettings ss;
        ss.first = 16;
        ss.max_batch = cap;
        ss.multiple_of = probe_settings.search.multiple_of;
        ss.stop = &stop;
        ss.on_point = [&](const std::vector<ScanPoint>& points) {
          SweepResult so_far = incomplete_sweep("interrupted during the throughput scan");
          so_far.throughput_scan = points;
          so_far.phase_seconds.throughput_scan = seconds_since(scan_start);
          checkpoint(nullptr, so_far, "the throughput scan");
        };
        io.err << "scan: timing a few steps at powers of two from 16 until samples/s stops growing by 5% "
                  "per doubling\n";
        scan = scan_throughput(workload, *scan_meter, ss, io.err);
      }
      result.phase_seconds.throughput_scan = seconds_since(scan_start);
      result.throughput_scan = scan.points;
      result.throughput_knee = scan.rule;
      if (scan.interrupted) stop_before_arms(nullptr, "the throughput scan");
      if (scan.knee_found) {
        probe_settings.search.max_batch = scan.largest;
        cap_source = "the throughput knee";
      }
    } else {
      probe_settings.search.max_batch = std::min(cap, sizes.back());
      if (sizes.back() < cap) cap_source = "--batch-sizes";
    }
    const auto probe_start = clock_type::now();
    probe_settings.stop = &stop;
    probe_settings.on_trial = [&](const ProbeResult& p) {
      checkpoint(&p, incomplete_sweep("interrupted during the probe"), "the probe");
    };
    try {
      probe = run_probe(workload, probe_settings, io.err);
    } catch (const ProbeInterrupted& e) {
      result.phase_seconds.probe = seconds_since(probe_start);
      stop_before_arms(&e.partial, "the probe");
    }
    result.phase_seconds.probe = seconds_since(probe_start);
    if (probe->capped) probe->cap_source = cap_source;
    meter = make_meter(workload, probe->capacity_bytes);
  } else if (workload.device().is_cpu()) {
    std::string source;
    const std::uint64_t budget = probe_settings.memory_limit_bytes.value_or(usable_memory_bytes(&source));
    meter = probes::make_cpu_budget_meter(budget, probe_settings.memory_limit_bytes ? "--memory-limit" : source);
  } else {
    meter = make_meter(workload, probe_settings.memory_limit_bytes);
  }
  if (probe) s.min_batch = probe->min_batch;
  if (auto_sizes) {
    const std::int64_t smallest = std::max<std::int64_t>(16, probe->min_batch);
    sizes = auto_batch_sizes(probe->safe_max_batch, smallest, probe_settings.search.multiple_of);
    s.batch_sizes_source = "auto: powers of two from " + std::to_string(smallest) + " to " +
                           std::to_string(probe->safe_max_batch) +
                           (probe->capped ? " (the largest size the throughput scan and caps allow, verified by the probe)"
                                          : " (the probe's safe maximum)");
  } else {
    s.batch_sizes_source = "--batch-sizes";
    if (probe && !o.force) {
      for (std::int64_t b : sizes) {
        if (b > probe->safe_max_batch) {
          throw DoesNotFitError("--batch-sizes: " + std::to_string(b) + " is above the probe's safe maximum " +
                                std::to_string(probe->safe_max_batch) + " (largest fitting " +
                                std::to_string(probe->largest_fitting_batch) + " in " +
                                format_bytes(probe->capacity_bytes) + "); drop it or pass --force to run it anyway");
        }
        if (b < probe->min_batch) {
          throw UsageError("--batch-sizes: the model does not train at batch " + std::to_string(b) + " (" +
                           probe->min_batch_reason + ")");
        }
      }
    }
  }
  s.batch_sizes = sizes;
  if (s.budget_kind == "samples" && s.budget_value < double(sizes.back())) {
    throw UsageError("--budget samples=" + std::to_string(static_cast<long long>(s.budget_value)) +
                     " is smaller than one batch of " + std::to_string(sizes.back()) +
                     "; give at least that many samples");
  }
  s.eval_samples = o.eval_samples > 0 ? o.eval_samples : default_eval_samples(s.budget_kind, s.budget_value, sizes.front());
  if (o.eval_every > 0) {
    s.eval_every_samples = o.eval_every;
  } else if (s.budget_kind == "samples") {
    s.eval_every_samples = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.budget_value) / 5);
  } else if (s.budget_kind == "steps") {
    s.eval_every_samples = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.budget_value) * sizes.front() / 5);
  } else {
    s.eval_every_samples = 10000;
  }

  SweepProgress progress;
  progress.out = &io.err;
  progress.live = isatty(STDERR_FILENO) == 1;
  const ProbeResult* probe_ptr = probe ? &*probe : nullptr;
  progress.on_arm_done = [&](const SweepResult& so_far) {
    SweepResult r = so_far;
    r.throughput_scan = result.throughput_scan;
    r.throughput_knee = result.throughput_knee;
    r.phase_seconds.probe = result.phase_seconds.probe;
    r.phase_seconds.throughput_scan = result.phase_seconds.throughput_scan;
    r.phase_seconds.total = seconds_since(started);
    r.incomplete_reason = "interrupted during the sweep; " + r.incomplete_reason;
    checkpoint(probe_ptr, r, "the sweep");
  };
  {
    SweepResult scan_fields = result;
    result = run_sweep(workload, s, meter.get(), progress, stop);
    result.throughput_scan = scan_fields.throughput_scan;
    result.throughput_knee = scan_fields.throughput_knee;
    result.phase_seconds.probe = scan_fields.phase_seconds.probe;
    result.phase_seconds.throughput_scan = scan_fields.phase_seconds.throughput_scan;
  }
  meter.reset();
  {
    const std::string generic = "interrupted by a signal";
    if (result.incomplete_reason.compare(0, generic.size(), generic) == 0) {
      result.incomplete_reason = "interrupted by " + InterruptGuard::signal_name() + " during the sweep" +
                                 result.incomplete_reason.substr(generic.size());
    }
  }
  const bool model_failed = std::any_of(result.arms.begin(), result.arms.end(),
                                        [](const SweepArm& a) { return a.status == ArmStatus::failed; });

  // The gradient noise scale: smallest swept size against a larger one that
  // fits, after a short warm-in; then the recommendation from everything.
  NoiseScale noise;
  noise.status = "not_measured";
  const std::int64_t large = std::min(sizes.back(), std::max<std::int64_t>(sizes.front() * 16, 256));
  if (result.incomplete) {
    noise.message = model_failed ? "an arm failed" : "the sweep was interrupted";
  } else if (o.noise_repeats == 0) {
    noise.message = "--noise-repeats 0";
  } else if (large <= sizes.front()) {
    noise.message = "needs a batch size larger than " + std::to_string(sizes.front()) + " that fits";
  } else {
    SweepResult before_noise = result;
    before_noise.incomplete = true;
    before_noise.incomplete_reason = "interrupted while measuring the gradient noise scale; every arm finished";
    before_noise.phase_seconds.total = seconds_since(started);
    checkpoint(probe_ptr, before_noise, "the gradient noise measurement");
    NoiseScaleSettings ns;
    ns.small_batch = sizes.front();
    ns.large_batch = large;
    ns.repeats = o.noise_repeats;
    ns.seed = workload.spec().seed;
    ns.stop = &stop;
    io.err << "sweep: measuring the gradient noise scale (batch " << ns.small_batch << " against " << ns.large_batch
           << ", " << ns.repeats << " repeats, after " << ns.warm_in_steps << " warm-in steps)\n";
    const auto noise_start = clock_type::now();
    try {
      noise = measure_noise_scale(workload, ns, workload.optimizer().learning_rate);
    } catch (const std::exception& e) {
      // Every arm is measured: a failure here costs the noise scale only.
      noise = NoiseScale{};
      noise.status = "not_measured";
      noise.small_batch = ns.small_batch;
      noise.large_batch = ns.large_batch;
      noise.message = probes::is_out_of_memory(e)
                          ? "batch " + std::to_string(large) + " ran out of memory while measuring it"
                          : "the measurement failed: " + describe_model_error(e);
      io.err << "sweep: the gradient noise scale was not measured: " << noise.message << '\n';
    }
    result.phase_seconds.noise_scale = seconds_since(noise_start);
    if (stop.load()) {
      result.incomplete = true;
      result.incomplete_reason = "interrupted by " + InterruptGuard::signal_name() +
                                 " while measuring the gradient noise scale; every arm finished";
    }
  }
  if (stop.load() && !result.incomplete) {
    result.incomplete = true;
    result.incomplete_reason = "interrupted by " + InterruptGuard::signal_name() + " after the sweep";
  }
  std::optional<Recommendation> recommendation;
  if (!result.incomplete) {
    RecommendSettings rs;
    rs.objective = o.objective;
    if (o.effective_batch > 0) rs.effective_batch = o.effective_batch;
    try {
      recommendation = recommend(result, probe_ptr, workload.info(), noise, rs);
    } catch (const std::exception& e) {
      // The measurements are still worth writing.
      io.err << "sweep: error: the recommendation could not be computed (" << e.what()
             << "); the report holds the measurements without one\n";
    }
  }
  result.phase_seconds.total = seconds_since(started);
  const nlohmann::ordered_json report = build_report(workload, probe_ptr, &result,
                                                     recommendation ? &*recommendation : nullptr);
  const std::string text = report.dump(2) + "\n";
  InterruptGuard::begin_final_write();
  try {
    write_report_or_rescue(o.output, text);
  } catch (...) {
    InterruptGuard::end_final_write();
    throw;
  }
  InterruptGuard::end_final_write();
  io.err << "sweep: wrote " << o.output << '\n';
  const Report written = report_from_json(nlohmann::json::parse(text), o.output);
  if (o.renderings.console_to_stdout()) render_report_text(io.out, written);
  io.err << write_renderings(written, o.renderings, io.out);
  if (model_failed) {
    throw Error(ExitCode::model_failed, "the sweep stopped: " + result.incomplete_reason + ". The report in " +
                                            o.output + " keeps the finished arms and is marked incomplete");
  }
  if (result.incomplete) {
    throw Error(ExitCode::interrupted, result.incomplete_reason + "; the report in " + o.output +
                                           " holds what was measured and is marked incomplete");
  }
}

}  // namespace

void setup_sweep(CLI::App& app, Io io) {
  auto o = std::make_shared<SweepOptions>();
  CLI::App* sub = app.add_subcommand(
      "sweep", "Probe, then train briefly at each feasible batch size and write a report (the main job)");
  add_workload_options(*sub, o->workload);
  add_probe_options(*sub, o->probe);
  const char* group = "Sweep";
  sub->add_option("--batch-sizes", o->batch_sizes,
                  "Comma-separated sizes (each at most the training set and the probe's safe maximum), or auto: "
                  "powers of two from 16 up to one doubling past the throughput knee (the first size whose "
                  "samples/s is not 5% above the best smaller one), within the memory the probe verifies")
      ->capture_default_str()->group(group);
  sub->add_option("--budget", o->budget,
                  "Per arm: samples=N (default: one epoch, at most 12000; equal samples compare sample "
                  "efficiency), steps=N, or seconds=T")
      ->group(group);
  sub->add_option("--lr-scaling", o->lr_scaling,
                  "Learning rate per batch size relative to --base-batch: none, linear (default for sgd), "
                  "sqrt (default for adam, adamw)")
      ->check(CLI::IsMember({"none", "linear", "sqrt"}))->group(group);
  sub->add_option("--base-batch", o->base_batch, "The batch size at which --lr applies")
      ->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30))->group(group);
  sub->add_option("--warmup", o->warmup, "Share of each arm's steps with a linear learning-rate warm-up (when scaling)")
      ->capture_default_str()->check(CLI::Range(0.0, 0.5))->group(group);
  sub->add_option("--seeds", o->seeds, "Repeat each arm with N seeds; the report gives mean and spread")
      ->capture_default_str()->check(CLI::Range(1, 100))->group(group);
  sub->add_option("--eval-every", o->eval_every, "Validation every N samples (default: a fifth of the budget)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))->group(group);
  sub->add_option("--eval-samples", o->eval_samples,
                  "Validation samples per evaluation (default: an eighth of a samples budget, between 500 and 5000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))->group(group);
  sub->add_option_function<double>("--target-loss", [o](const double& v) { o->target_loss = v; o->target_given = true; },
                                   "Target validation loss (default: the median of the arms' best, which at least half reach)")
      ->check(finite_number(true))->group(group);
  sub->add_option("--objective", o->objective,
                  "What the recommendation optimises: time-to-target (wall-clock to the target loss), throughput, "
                  "sample-efficiency (fewest samples to the target) or max-fit (the largest safe batch)")
      ->capture_default_str()->check(CLI::IsMember(recommendation_objectives()))->group(group);
  sub->add_option("--effective-batch", o->effective_batch,
                  "Plan for this effective batch instead (a paper's, or a multi-device run's): above the safe "
                  "maximum it becomes micro-batch x accumulation steps, with its predicted time")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))->group(group);
  sub->add_option("--noise-repeats", o->noise_repeats,
                  "Gradient norm pairs for the noise scale estimate after the sweep; 0 skips it")
      ->capture_default_str()->check(CLI::Range(0, 10000))->group(group);
  sub->add_flag("--force", o->force, "Run listed sizes above the probe's safe maximum (and skip the probe for a list)")
      ->group(group);
  sub->add_option("-o,--output", o->output, "The report (JSON), written atomically")->capture_default_str();
  add_render_options(*sub, o->renderings);
  sub->callback([o, io] { run_sweep_command(*o, io); });
}

}  // namespace batchtune
