// `batchtune sweep`: the options mapped onto tune() (tuner/run/tune.hpp), the
// report written atomically and rendered. With no options it is the main job:
// mlp on Fashion-MNIST, under half a minute on a 2-core CPU.
#include <CLI/CLI.hpp>

#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>

#include "reports/tools/check.hpp"
#include "reports/util/error.hpp"
#include "reports/util/json_util.hpp"
#include "reports/model/recommendation.hpp"
#include "reports/render/render_text.hpp"
#include "reports/util/units.hpp"
#include "reports/render/report_outputs.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/interrupt.hpp"
#include "tuner/cli/output_plan.hpp"
#include "tuner/cli/probe_options.hpp"
#include "tuner/dist/data_parallel.hpp"
#include "tuner/dist/launch.hpp"
#include "tuner/run/sweep.hpp"
#include "tuner/run/tune.hpp"
#include "tuner/cli/workload_options.hpp"
#include "tuner/cli/option_text.hpp"

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
  // The whole-run tune: on when --epochs or --train-samples is given.
  double epochs = 0;
  std::int64_t train_samples = 0;
  double target_accuracy = -1;
  double trunk_share = 0.2;
  int branch_points = 2;
  double tune_share = 0.4;
  int lr_grid = 0;
  int lr_finalists = -1;  // -1: not given (the default, 2)
  bool throughput_only = false;
  std::string shard;
  std::string max_val_loss_excess;
  double dist_timeout_s = 60;
  std::string dist_backend = "auto";
  std::string output = "batchtune-report.json";
  RenderTargets renderings;
  // Options given on the command line (CLI11's count), for the ones whose
  // defaults would otherwise hide that they do nothing here.
  std::vector<std::string> given_whole_run_only;  // --trunk-share, --branch-points, --tune-share
  bool objective_given = false;
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
  if (!o.max_val_loss_excess.empty()) {
    plan.max_validation_loss_excess = parse_percent(o.max_val_loss_excess, "--max-val-loss-excess");
  }
  plan.noise_repeats = o.noise_repeats;
  const bool whole = o.epochs > 0 || o.train_samples > 0;
  if (o.throughput_only) {
    if (whole || o.batch_sizes != "auto" || !o.budget.empty()) {
      throw UsageError("--throughput-only times steps at every power of two the probe allows, and trains nothing; "
                       "drop --epochs, --train-samples, --batch-sizes and --budget");
    }
    plan.throughput_only = true;
  }
  if (!o.shard.empty()) {
    std::tie(plan.shard_index, plan.shard_count) = parse_shard(o.shard);
    if (whole || o.throughput_only) {
      throw UsageError("--shard splits the early sweep's arms over machines; the whole-run tune (--epochs, "
                       "--train-samples) trains one trunk its arms branch from, and --throughput-only runs no arms: "
                       "drop --shard");
    }
    if (plan.batch_sizes.empty()) {
      throw UsageError("--shard " + o.shard + " needs --batch-sizes: with automatic sizes each machine's probe and "
                       "scan could choose other sizes, and the parts would not join; list the sizes");
    }
    const std::int64_t arms = static_cast<std::int64_t>(plan.batch_sizes.size()) * o.seeds;
    if (plan.shard_count > arms) {
      throw UsageError("--shard " + o.shard + ": the sweep plans " + std::to_string(arms) + " arms (" +
                       std::to_string(plan.batch_sizes.size()) + " sizes x " + std::to_string(o.seeds) +
                       " seeds); split it into at most that many parts");
    }
  }
  if (!whole && !o.given_whole_run_only.empty()) {
    throw UsageError(o.given_whole_run_only.front() +
                     " belongs to the whole-run tune; state the run with --epochs E or --train-samples N");
  }
  if (whole && o.objective_given) {
    throw UsageError("--objective " + o.objective + " chooses among the early sweep's arms; the whole-run tune "
                     "recommends the size that finishes the planned run soonest: drop --objective (or --epochs/"
                     "--train-samples)");
  }
  if (o.epochs > 0 && o.train_samples > 0) {
    throw UsageError("--epochs and --train-samples both state the planned run; give one of them");
  }
  if (!whole && (o.target_accuracy >= 0 || o.lr_grid > 0 || o.lr_finalists >= 0)) {
    throw UsageError(std::string(o.lr_grid > 0 ? "--lr-grid" : o.lr_finalists >= 0 ? "--lr-finalists" : "--target-accuracy") +
                     " belongs to the whole-run tune; state the run with --epochs E or --train-samples N");
  }
  if (whole) {
    if (!o.budget.empty()) {
      throw UsageError("--budget sets the early sweep's per-arm budget; the whole-run tune (--epochs/--train-samples) "
                       "sizes its own arms (see --tune-share): drop --budget");
    }
    if (o.seeds > 1) {
      throw UsageError("--seeds: the whole-run tune trains one trunk; drop --seeds (or run without --epochs)");
    }
    if (o.target_given && o.target_accuracy >= 0) {
      throw UsageError("--target-loss and --target-accuracy both state the run's target; give one of them");
    }
    if (!plan.batch_sizes.empty() && o.base_batch > plan.batch_sizes.back()) {
      // The probe stops at the largest listed size, below the trunk's.
      throw UsageError("--batch-sizes " + o.batch_sizes + " stops below --base-batch " + std::to_string(o.base_batch) +
                       ", where the whole-run tune trains its trunk; list sizes up to at least " +
                       std::to_string(o.base_batch) + ", or give a smaller --base-batch");
    }
    if (o.trunk_share >= o.tune_share) {
      throw UsageError("--trunk-share " + format_number(o.trunk_share, "%g") + " leaves nothing of --tune-share " +
                       format_number(o.tune_share, "%g") + " for the arms; make the trunk the smaller");
    }
    WholeRunPlan w;
    if (o.epochs > 0) w.epochs = o.epochs;
    if (o.train_samples > 0) w.train_samples = o.train_samples;
    if (o.target_accuracy >= 0) w.target_accuracy = o.target_accuracy;
    w.trunk_share = o.trunk_share;
    w.branch_points = o.branch_points;
    w.budget_share = o.tune_share;
    w.lr_grid = o.lr_grid;
    if (o.lr_finalists >= 0) w.rate_finalists = o.lr_finalists;
    if (o.lr_grid > 0 && o.lr_finalists > 0) {
      throw UsageError("--lr-grid already runs every size at several rates; --lr-finalists measures the rate at the "
                       "fastest few only: give one of them");
    }
    plan.whole_run = w;
  }
  return plan;
}

// FNV-1a, 64 bits, folded over `bytes` from `h`.
std::uint64_t fnv1a(const std::string& bytes, std::uint64_t h = 1469598103934665603ull) {
  for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// What every rank of a launch must share, as (option, value): the workload
// (a file by its size and a hash of its first and last MiB, so two copies
// of one file agree) and the sweep's plan. Not the device: each rank has its own.
std::vector<std::pair<std::string, std::string>> agreement_fields(const SweepOptions& o) {
  auto file_id = [](const std::string& path) -> std::string {
    std::ifstream in(path, std::ios::binary);
    if (!in) return path;  // a built-in name or a missing file: the text itself
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::uint64_t>(in.tellg());
    std::uint64_t h = fnv1a("");
    auto mix = [&](std::uint64_t from, std::uint64_t bytes) {
      std::string buf(static_cast<std::size_t>(bytes), '\0');
      in.seekg(static_cast<std::streamoff>(from));
      in.read(buf.data(), static_cast<std::streamsize>(bytes));
      h = fnv1a(buf, h);
    };
    constexpr std::uint64_t kMiB = 1 << 20;
    mix(0, std::min(size, kMiB));
    if (size > kMiB) mix(size - std::min(size - kMiB, kMiB), std::min(size - kMiB, kMiB));
    // The content, not the path: copies of one file at other paths agree.
    char id[64];
    std::snprintf(id, sizeof id, "%llu bytes, content hash %016llx", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(h));
    return std::string(id);
  };
  // The same fields in the same order on every rank, whatever each was
  // given (an option one rank lacks reads "-"), so that the ranks' gathers
  // below pair up.
  std::map<std::string, std::string> given;
  const std::vector<std::string> args = workload_to_args(o.workload.to_spec());
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) given[args[i]] = args[i + 1];
  given.erase("--device");
  static const char* const kWorkloadOptions[] = {
      "--model", "--data", "--optimizer", "--seed", "--precision", "--data-dir", "--data-file", "--target-file",
      "--npy-inputs", "--npy-targets", "--input-shape", "--target-shape", "--num-classes", "--loss",
      "--probe-shape", "--batching", "--mlp-hidden", "--resnet-width", "--resnet-blocks", "--gpt-vocab",
      "--gpt-context", "--gpt-width", "--gpt-depth", "--gpt-heads", "--synthetic-train", "--synthetic-val", "--lr",
      "--momentum", "--weight-decay", "--threads", "--jit-optimize"};
  std::vector<std::pair<std::string, std::string>> fields;
  for (const char* name : kWorkloadOptions) {
    const auto it = given.find(name);
    const std::string value = it == given.end() ? std::string("-") : it->second;
    const bool file = std::string(name) == "--model" || std::string(name) == "--data-file" ||
                      std::string(name) == "--target-file";
    fields.emplace_back(name, file && it != given.end() ? file_id(value) : value);
    if (it != given.end()) given.erase(it);
  }
  std::string rest;  // any workload option not listed above
  for (const auto& [name, value] : given) rest += name + " " + value + " ";
  fields.emplace_back("the other workload options", rest);
  auto num = [](double v) { return format_number(v, "%.17g"); };
  fields.insert(fields.end(), {{"--batch-sizes", o.batch_sizes},
                               {"--budget", o.budget},
                               {"--base-batch", std::to_string(o.base_batch)},
                               {"--lr-scaling", o.lr_scaling},
                               {"--warmup", num(o.warmup)},
                               {"--seeds", std::to_string(o.seeds)},
                               {"--eval-every", std::to_string(o.eval_every)},
                               {"--eval-samples", std::to_string(o.eval_samples)},
                               {"--target-loss", o.target_given ? num(o.target_loss) : std::string("-")},
                               {"--objective", o.objective},
                               {"--effective-batch", std::to_string(o.effective_batch)},
                               {"--epochs", num(o.epochs)},
                               {"--train-samples", std::to_string(o.train_samples)},
                               {"--tune-share", num(o.tune_share)},
                               {"--trunk-share", num(o.trunk_share)},
                               {"--branch-points", std::to_string(o.branch_points)},
                               {"--memory-limit", o.probe.memory_limit},
                               {"--max-batch", std::to_string(o.probe.max_batch)},
                               {"--multiple-of", std::to_string(o.probe.multiple_of)},
                               {"--throughput-only", o.throughput_only ? "on" : "off"},
                               {"--force", o.force ? "on" : "off"},
                               {"--shard", o.shard},
                               {"--dist-backend", o.dist_backend}});
  return fields;
}

// Before any work under a launch: every rank's options and inputs hashed
// and gathered; where they differ, every rank stops with one line naming
// the option and the ranks' values (exit 2), rather than abort inside Gloo
// or train different things under one report.
void require_ranks_agree(const SweepOptions& o, dist::DataParallel& dp) {
  const auto fields = agreement_fields(o);
  auto hash = [](const std::string& text) {
    char hex[20];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
    return std::string(hex);
  };
  std::string all;
  for (const auto& [name, value] : fields) all += name + "=" + value + "\n";
  const auto digests = dp.allgather_text(hash(all));
  if (std::all_of(digests.begin(), digests.end(), [&](const std::string& d) { return d == digests.front(); })) return;
  // Which option: each field's value gathered in turn (only when they differ).
  for (const auto& [name, value] : fields) {
    // At most 255 bytes a rank: a longer value goes as its start and a hash
    // of the whole, so a difference past the cut still shows.
    const auto values = dp.allgather_text(value.size() <= 200 ? value : value.substr(0, 160) + "... #" + hash(value));
    if (std::all_of(values.begin(), values.end(), [&](const std::string& v) { return v == values.front(); })) continue;
    std::string seen;
    for (std::size_t r = 0; r < values.size(); ++r) {
      seen += (r == 0 ? "" : r + 1 == values.size() ? " and " : ", ") +
              (values[r] == "-" ? std::string("not given") : "'" + values[r] + "'") + " on rank " + std::to_string(r);
    }
    throw UsageError("the ranks disagree on " + name + ": " + seen +
                     "; every rank of a launch must run the same options on the same inputs (nothing was trained)");
  }
  throw UsageError("the ranks disagree on their options or inputs; every rank of a launch must run the same command "
                   "(nothing was trained)");
}

void write_final(const std::string& path, const std::string& text) {
  InterruptGuard::FinalWrite writing;
  write_report_or_rescue(path, text);
}

void run_sweep_command(const SweepOptions& o, Io io) {
  // A torchrun or srun launch: every rank runs this command; rank 0 writes.
  // A world of one is a plain run, unless a backend is named (to try it on one device).
  const std::optional<dist::LaunchInfo> launch = dist::launch_from_environment(o.dist_backend != "auto");
  const bool writer = !launch || launch->rank == 0;
  // Every output is checked before any work: nothing measured is lost to a
  // path found unwritable at the end.
  TunePlan plan = plan_of(o);  // the options' own contradictions first
  if (writer) {
    check_outputs({{"-o", o.output}, {"--html", o.renderings.html}, {"--markdown", o.renderings.markdown}},
                  model_and_data_inputs(o.workload));
  }
  std::unique_ptr<dist::DataParallel> dp;
  WorkloadSpec spec = o.workload.to_spec();
  if (launch && (spec.device == "cuda" || (spec.device == "auto" && torch::cuda::is_available()))) {
    spec.device = "cuda:" + std::to_string(launch->local_rank);  // one GPU a rank, as torchrun expects
  }
  if (launch) {
    const bool on_cuda = spec.device.rfind("cuda", 0) == 0;
    const dist::Backend backend = dist::choose_backend(o.dist_backend, on_cuda && torch::cuda::is_available(),
                                                       dist::nccl_available());
    io.err << "sweep: rank " << launch->rank << " of " << launch->world_size << " (" << launch->launcher
           << ", " << dist::to_string(backend) << "), meeting the others at " << launch->master_addr << ':'
           << launch->master_port << '\n';
    dp = dist::DataParallel::connect(*launch, std::chrono::milliseconds(static_cast<long long>(o.dist_timeout_s * 1000)),
                                     backend, on_cuda ? torch::Device(spec.device) : torch::Device(torch::kCPU));
    require_ranks_agree(o, *dp);
  }
  // A rank that cannot make the workload (its device, its copy of the data)
  // stops every rank with its reason.
  std::optional<Workload> made;
  const auto make = [&] { made.emplace(Workload::create(spec)); };
  if (dp) dp->all_or_none(make);
  else make();
  const Workload& workload = *made;

  TuneHooks hooks;
  hooks.data_parallel = dp.get();
  hooks.progress = &io.err;
  hooks.live_progress = isatty(STDERR_FILENO) == 1;
  hooks.stop = &InterruptGuard::flag();
  hooks.stop_cause = [] { return InterruptGuard::signal_name(); };
  // The report as it stands, for the watchdog to write if a signal comes
  // during a step too long to wait for.
  hooks.checkpoint = [&](const nlohmann::ordered_json& report, const std::string& phase) {
    InterruptGuard::checkpoint(o.output, report.dump(2) + "\n", phase);
  };
  std::ostringstream quiet;
  if (!writer) {
    // The other ranks measure the same arms: rank 0 speaks and writes for them.
    hooks.progress = &quiet;
    hooks.live_progress = false;
    hooks.checkpoint = nullptr;
  }
  const TuneOutcome outcome = tune(workload, std::move(plan), hooks);
  if (!writer) {
    if (outcome.end == TuneEnd::rank_failed) {
      throw dist::PeerFailure(outcome.sweep.incomplete_reason + "; rank 0 writes the report");
    }
    if (outcome.end == TuneEnd::interrupted) {
      throw Error(ExitCode::interrupted, "rank " + std::to_string(launch->rank) + ": " +
                                             outcome.sweep.incomplete_reason + "; rank 0 writes the report");
    }
    io.err << "sweep: rank " << launch->rank << " done; rank 0 writes the report\n";
    return;
  }
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
  if (outcome.end == TuneEnd::rank_failed) {
    throw dist::PeerFailure(outcome.sweep.incomplete_reason + ". The report in " + o.output +
                            " keeps the finished arms and is marked incomplete");
  }
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
                                   "Target validation loss (default: the median of the arms' best, which at least half reach; with --epochs or --train-samples: the loss the base batch reaches at the run's end)")
      ->check(finite_number(true))->group(group);
  sub->add_option("--objective", o->objective,
                  "What the recommendation optimises: time-to-target (wall-clock to the target loss), throughput, "
                  "sample-efficiency (fewest samples to the target) or max-fit (the largest safe batch)")
      ->capture_default_str()->check(CLI::IsMember(recommendation_objectives()))->group(group);
  sub->add_option("--effective-batch", o->effective_batch,
                  "Plan for this effective batch instead (a paper's, or a multi-device run's): above the safe "
                  "maximum it becomes micro-batch x accumulation steps, with its predicted time")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))->group(group);
  sub->add_option("--max-val-loss-excess", o->max_val_loss_excess,
                  "Refuse batch sizes whose final validation loss is more than this much above the best size's "
                  "(a percentage such as 2%): the generalisation constraint, stated in the reasons")
      ->group(group);
  sub->add_option("--noise-repeats", o->noise_repeats,
                  "Gradient norm pairs for the noise scale estimate after the sweep; 0 skips it")
      ->capture_default_str()->check(CLI::Range(0, 10000))->group(group);
  const char* whole = "Whole run (branched arms along the planned run)";
  sub->add_option("--epochs", o->epochs,
                  "The run you plan, in epochs of the training split: tune for it (a trunk at --base-batch along "
                  "the run, short arms branched from it at every size, the whole run's time predicted at each)")
      ->check(finite_number(false, 1e6))->group(whole);
  sub->add_option("--train-samples", o->train_samples, "The run you plan, in training samples (instead of --epochs)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 50))->group(whole);
  sub->add_option("--target-accuracy", o->target_accuracy,
                  "The run's final target as a validation accuracy (default: the loss the base batch reaches at "
                  "the run's end; --target-loss sets a loss)")
      ->check(CLI::Range(0.0, 1.0))->group(whole);
  sub->add_option("--trunk-share", o->trunk_share, "Share of the planned run the trunk trains")
      ->capture_default_str()->check(CLI::Range(0.02, 0.9))->group(whole);
  sub->add_option("--branch-points", o->branch_points, "Points on the trunk the arms branch from")
      ->capture_default_str()->check(CLI::Range(1, 8))->group(whole);
  sub->add_option("--tune-share", o->tune_share,
                  "The whole tune's samples (trunk and arms) as a share of the planned run's")
      ->capture_default_str()->check(CLI::Range(0.05, 1.0))->group(whole);
  sub->add_option("--lr-grid", o->lr_grid,
                  "At the last branch point also try 2^-K .. 2^K times every size's rule rate; a rate that beats "
                  "the rule's beyond the noise is recommended with its size (the sizes are ranked at the rule's "
                  "rate, which every arm measures)")
      ->capture_default_str()->check(CLI::Range(0, 3))->group(whole);
  sub->add_option("--lr-finalists", o->lr_finalists,
                  "After the arms, the N sizes predicted fastest also run at half and twice their rule rate from "
                  "the last branch point; a rate that beats the rule's beyond the noise is recommended, and the "
                  "size's predicted steps scale by its measured gain (default 2; 0: the rule's rate only). Its "
                  "arms come out of --tune-share")
      ->check(CLI::Range(0, 8))->group(whole);
  sub->add_flag("--throughput-only", o->throughput_only,
                "Probe and time a few steps at every power of two up to the largest that fits, with no training "
                "runs: this machine's step times, for `report CONV.json --step-times THIS.json` on a whole-run "
                "report made elsewhere. Under torchrun/srun: global batches, each trained data-parallel for 0.3 s")
      ->group(whole);
  sub->add_option("--shard", o->shard,
                  "I/N: run only every N-th arm from the I-th (1-based), as one of N machines sharing the sweep "
                  "(a SLURM array job); list --batch-sizes so every part plans the same arms, then join the parts "
                  "with `batchtune merge`")
      ->group(group);
  sub->add_option("--dist-timeout", o->dist_timeout_s,
                  "Data-parallel launches (torchrun, srun): seconds to wait for every rank to arrive and for any "
                  "collective to finish; a rank that dies or stops answering ends the sweep on every rank within it "
                  "(exit 10, rank 0's report marked incomplete)")
      ->capture_default_str()->check(CLI::Range(1.0, 86400.0))->group(group);
  sub->add_option("--dist-backend", o->dist_backend,
                  "Data-parallel launches: the collectives' backend. auto: NCCL between CUDA devices where this "
                  "build has it, Gloo on CPUs; gloo; nccl (refused on CPUs, exit 4). Naming one makes a world of one "
                  "(torchrun --nproc-per-node 1) a launch too, to try the backend on one device")
      ->capture_default_str()->check(CLI::IsMember({"auto", "gloo", "nccl"}))->group(group);
  sub->add_flag("--force", o->force, "Run listed sizes above the probe's safe maximum (and skip the probe for a list)")
      ->group(group);
  sub->add_option("-o,--output", o->output, "The report (JSON), written atomically")
      ->capture_default_str()->check(non_empty_path());
  add_render_options(*sub, o->renderings);
  std::vector<CLI::Option*> whole_run_only{sub->get_option("--trunk-share"), sub->get_option("--branch-points"),
                                          sub->get_option("--tune-share")};
  CLI::Option* objective = sub->get_option("--objective");
  sub->callback([o, io, whole_run_only, objective] {
    o->given_whole_run_only.clear();
    for (const CLI::Option* opt : whole_run_only) {
      if (opt->count() > 0) o->given_whole_run_only.push_back(opt->get_name());
    }
    o->objective_given = objective->count() > 0;
    run_sweep_command(*o, io);
  });
}

}  // namespace batchtune
