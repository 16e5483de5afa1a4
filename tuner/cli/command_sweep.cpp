// `batchtune sweep`: the options mapped onto tune() (tuner/run/tune.hpp), the
// report written atomically and rendered. With no options it is the main job:
// mlp on Fashion-MNIST, under half a minute on a 2-core CPU.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <memory>
#include <ostream>

#include "reports/error.hpp"
#include "reports/json_util.hpp"
#include "reports/recommendation.hpp"
#include "reports/render_text.hpp"
#include "reports/report_outputs.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/interrupt.hpp"
#include "tuner/cli/output_plan.hpp"
#include "tuner/cli/probe_options.hpp"
#include "tuner/run/sweep.hpp"
#include "tuner/run/tune.hpp"
#include "tuner/cli/workload_options.hpp"

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

// The options as a plan for tune(); what can be checked before anything is
// loaded is checked here.
TunePlan plan_of(const SweepOptions& o) {
  TunePlan plan;
  plan.probe = o.probe.to_settings();
  if (o.batch_sizes != "auto") plan.batch_sizes = parse_batch_sizes(o.batch_sizes);
  if (!o.budget.empty()) std::tie(plan.budget_kind, plan.budget_value) = parse_budget(o.budget);
  if (!plan.batch_sizes.empty() && plan.budget_kind == BudgetKind::samples && plan.budget_value > 0 &&
      plan.budget_value < double(plan.batch_sizes.back())) {
    throw UsageError("--budget " + o.budget + " is smaller than one batch of " +
                     std::to_string(plan.batch_sizes.back()) +
                     " (--batch-sizes); give at least that many samples or drop the size");
  }
  if (!o.lr_scaling.empty()) plan.lr_scaling = parse_lr_scaling(o.lr_scaling).value();  // IsMember checked it
  plan.base_batch = o.base_batch;
  plan.warmup = o.warmup;
  plan.seeds = o.seeds;
  plan.eval_every = o.eval_every;
  plan.eval_samples = o.eval_samples;
  if (o.target_given) plan.target_loss = o.target_loss;
  plan.force = o.force;
  plan.objective = parse_objective(o.objective).value();  // IsMember checked it
  plan.effective_batch = o.effective_batch;
  plan.noise_repeats = o.noise_repeats;
  return plan;
}

void write_final(const std::string& path, const std::string& text) {
  InterruptGuard::FinalWrite writing;
  write_report_or_rescue(path, text);
}

void run_sweep_command(const SweepOptions& o, Io io) {
  // Every output is checked before any work: nothing measured is lost to a
  // path found unwritable at the end.
  check_outputs({{"-o", o.output}, {"--html", o.renderings.html}, {"--markdown", o.renderings.markdown}},
                model_and_data_inputs(o.workload));
  TunePlan plan = plan_of(o);
  const Workload workload = Workload::create(o.workload.to_spec());

  TuneHooks hooks;
  hooks.progress = &io.err;
  hooks.live_progress = isatty(STDERR_FILENO) == 1;
  hooks.stop = &InterruptGuard::flag();
  hooks.stop_cause = [] { return InterruptGuard::signal_name(); };
  // The report as it stands, for the watchdog to write if a signal comes
  // during a step too long to wait for.
  hooks.checkpoint = [&](const nlohmann::ordered_json& report, const std::string& phase) {
    InterruptGuard::checkpoint(o.output, report.dump(2) + "\n", phase);
  };
  const TuneOutcome outcome = tune(workload, std::move(plan), hooks);
  const std::string text = outcome.report.dump(2) + "\n";
  write_final(o.output, text);
  const std::string& why = outcome.sweep.incomplete_reason;
  if (outcome.end == TuneEnd::interrupted && outcome.sweep.arms.empty()) {
    throw Error(ExitCode::interrupted, why + "; the report in " + o.output + " holds what was measured and is marked incomplete");
  }
  io.err << "sweep: wrote " << o.output << '\n';
  const Report written = report_from_json(nlohmann::json::parse(text), o.output);
  if (o.renderings.console_to_stdout()) render_report_text(io.out, written);
  io.err << write_renderings(written, o.renderings, io.out);
  if (outcome.end == TuneEnd::model_failed) {
    throw Error(ExitCode::model_failed, "the sweep stopped: " + why + ". The report in " + o.output +
                                            " keeps the finished arms and is marked incomplete");
  }
  if (outcome.end == TuneEnd::interrupted) {
    throw Error(ExitCode::interrupted, why + "; the report in " + o.output +
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
      ->check(CLI::IsMember(json_util::enum_words<LrScaling>()))->group(group);
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
