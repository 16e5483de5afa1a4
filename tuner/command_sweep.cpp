// `batchtune sweep`: probe, then short training runs at each feasible batch
// size, measured fairly, written as a report. With no options it is the main
// job: mlp on Fashion-MNIST, about a minute on a 2-core CPU.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <ostream>

#include "reports/atomic_file.hpp"
#include "reports/error.hpp"
#include "reports/machine_info.hpp"
#include "reports/render_text.hpp"
#include "reports/report_outputs.hpp"
#include "tuner/cli.hpp"
#include "tuner/interrupt.hpp"
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
  std::int64_t eval_samples = 5000;
  double target_loss = 0;
  bool target_given = false;
  bool force = false;
  std::string objective = "time-to-target";
  std::int64_t effective_batch = 0;
  int noise_repeats = 16;
  std::string output = "batchtune-report.json";
  RenderTargets renderings;
};

std::uint64_t available_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  std::uint64_t kib = 0;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

void run_sweep_command(const SweepOptions& o, Io io) {
  check_writable(o.output);  // before any training
  check_render_targets(o.renderings);
  ProbeSettings probe_settings = o.probe.to_settings();
  const bool auto_sizes = o.batch_sizes == "auto";
  std::vector<std::int64_t> sizes;
  if (!auto_sizes) sizes = parse_batch_sizes(o.batch_sizes);
  const Workload workload = Workload::create(o.workload.to_spec());

  SweepSettings s;
  const auto train_size = workload.data().train.size();
  if (o.budget.empty()) {
    s.budget_kind = "samples";
    s.budget_value = double(std::min<std::int64_t>(train_size, 12000));
  } else {
    std::tie(s.budget_kind, s.budget_value) = parse_budget(o.budget);
  }
  s.lr_scaling = !o.lr_scaling.empty() ? o.lr_scaling : workload.optimizer().kind == OptimizerKind::sgd ? "linear" : "sqrt";
  s.base_batch = o.base_batch;
  s.warmup_share = s.lr_scaling == "none" ? 0.0 : o.warmup;
  s.seeds = o.seeds;
  s.precision = precision_name(workload.precision());
  s.eval_samples = o.eval_samples;
  if (o.target_given) s.target_loss = o.target_loss;

  // The probe: the whole search for auto sizes; for a list, up to its largest
  // size, to check the list against the safe maximum. --force skips it.
  std::optional<ProbeResult> probe;
  std::unique_ptr<probes::MemoryMeter> meter;
  if (!(o.force && !auto_sizes)) {
    if (!auto_sizes) probe_settings.search.max_batch = sizes.back();
    probe = run_probe(workload, probe_settings, io.err);
    meter = make_meter(workload, probe->capacity_bytes);
  } else if (workload.device().is_cpu()) {
    const std::uint64_t budget = probe_settings.memory_limit_bytes.value_or(available_memory());
    meter = probes::make_cpu_budget_meter(budget, "--force without a probe");
  } else {
    meter = make_meter(workload, probe_settings.memory_limit_bytes);
  }
  if (auto_sizes) {
    sizes = auto_batch_sizes(probe->safe_max_batch, 16, probe_settings.search.multiple_of);
    s.batch_sizes_source = "auto: powers of two from 16 to the probe's safe maximum " +
                           std::to_string(probe->safe_max_batch) + ", and the safe maximum";
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
      }
    }
  }
  s.batch_sizes = sizes;
  if (s.budget_kind == "samples" && s.budget_value < double(sizes.back())) {
    throw UsageError("--budget samples=" + std::to_string(static_cast<long long>(s.budget_value)) +
                     " is smaller than one batch of " + std::to_string(sizes.back()) +
                     "; give at least that many samples");
  }
  if (o.eval_every > 0) {
    s.eval_every_samples = o.eval_every;
  } else if (s.budget_kind == "samples") {
    s.eval_every_samples = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.budget_value) / 5);
  } else if (s.budget_kind == "steps") {
    s.eval_every_samples = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.budget_value) * sizes.front() / 5);
  } else {
    s.eval_every_samples = 10000;
  }

  InterruptGuard guard;
  SweepProgress progress;
  progress.out = &io.err;
  progress.live = isatty(STDERR_FILENO) == 1;
  const SweepResult result = run_sweep(workload, s, meter.get(), progress, InterruptGuard::flag());
  meter.reset();

  // The gradient noise scale: smallest swept size against a larger one that
  // fits, after a short warm-in; then the recommendation from everything.
  NoiseScale noise;
  noise.status = "not_measured";
  const std::int64_t large = std::min(sizes.back(), std::max<std::int64_t>(sizes.front() * 16, 256));
  if (result.incomplete) {
    noise.message = "the sweep was interrupted";
  } else if (o.noise_repeats == 0) {
    noise.message = "--noise-repeats 0";
  } else if (large <= sizes.front()) {
    noise.message = "needs a batch size larger than " + std::to_string(sizes.front()) + " that fits";
  } else {
    NoiseScaleSettings ns;
    ns.small_batch = sizes.front();
    ns.large_batch = large;
    ns.repeats = o.noise_repeats;
    ns.seed = workload.spec().seed;
    io.err << "sweep: measuring the gradient noise scale (batch " << ns.small_batch << " against " << ns.large_batch
           << ", " << ns.repeats << " repeats, after " << ns.warm_in_steps << " warm-in steps)\n";
    noise = measure_noise_scale(workload, ns, workload.optimizer().learning_rate);
  }
  std::optional<Recommendation> recommendation;
  if (!result.incomplete) {
    RecommendSettings rs;
    rs.objective = o.objective;
    if (o.effective_batch > 0) rs.effective_batch = o.effective_batch;
    recommendation = recommend(result, probe ? &*probe : nullptr, workload.info(), noise, rs);
  }
  const nlohmann::ordered_json report =
      build_report(workload, probe ? &*probe : nullptr, &result, recommendation ? &*recommendation : nullptr);
  const std::string text = report.dump(2) + "\n";
  write_file_atomically(o.output, text);
  io.err << "sweep: wrote " << o.output << '\n';
  const Report written = report_from_json(nlohmann::json::parse(text), o.output);
  if (o.renderings.console_to_stdout()) render_report_text(io.out, written);
  io.err << write_renderings(written, o.renderings, io.out);
  if (result.incomplete) {
    throw Error(ExitCode::interrupted, "interrupted: " + result.incomplete_reason + "; the report in " + o.output +
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
                  "Comma-separated sizes, or auto: powers of two from 16 to the probe's safe maximum, and it")
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
  sub->add_option("--eval-samples", o->eval_samples, "Validation samples per evaluation")
      ->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))->group(group);
  sub->add_option_function<double>("--target-loss", [o](const double& v) { o->target_loss = v; o->target_given = true; },
                                   "Target validation loss (default: the median of the arms' best, which at least half reach)")
      ->group(group);
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
