#include "tuner/run/tune.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <ostream>

#include "probes/oom.hpp"
#include "reports/util/error.hpp"
#include "reports/util/text_util.hpp"
#include "reports/run_analysis/predict_run.hpp"
#include "tuner/plan/branched.hpp"
#include "tuner/run/noise_scale.hpp"
#include "tuner/run/report_builder.hpp"
#include "tuner/run/sweep.hpp"
#include "tuner/run/throughput_scan.hpp"
#include "tuner/run/workload_trainer.hpp"
#include "tuner/workload/machine_probe.hpp"

namespace batchtune {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// The default validation size per evaluation scales with the budget: six
// evaluations of 5,000 samples cost more than 12,000 training samples. An
// eighth of the budget's samples, between 500 and 5,000.
std::int64_t default_eval_samples(BudgetKind kind, double value, std::int64_t smallest_batch) {
  double samples = 5000;
  if (kind == BudgetKind::samples) samples = value / 8;
  if (kind == BudgetKind::steps) samples = value * double(smallest_batch) / 8;
  return static_cast<std::int64_t>(std::clamp(samples, 500.0, 5000.0));
}

// The whole-run tune evaluates the trunk and every arm on one fixed subset.
// The arms are read against each other and the trunk on the same samples, so
// the subset's own sampling error is mostly shared; some 70 evaluations of
// 2,000 cost a third of the tune's work (mlp on Fashion-MNIST), and five
// seeds of tunes at 1,000 picked as well as at 2,000.
constexpr std::int64_t kWholeRunEvalSamples = 1000;

// `--throughput-only` under a launch: training seconds timed at each global
// batch (rank 0's clock; at least a few steps are always timed).
constexpr double kDataParallelTimedSeconds = 0.3;

// One run of tune(): the plan, the hooks and what has been measured so far,
// with one method per stage.
class Tuner {
 public:
  Tuner(const Workload& workload, TunePlan plan, const TuneHooks& hooks)
      : workload_(workload), plan_(std::move(plan)), hooks_(hooks), started_(clock_type::now()) {
    if (hooks_.progress == nullptr) hooks_.progress = &null_;
    if (hooks_.stop == nullptr) hooks_.stop = &never_;
    if (!hooks_.stop_cause) hooks_.stop_cause = [] { return std::string("a stop request"); };
  }

  TuneOutcome run() {
    // Under a launch a refusal one rank meets alone (its copy of the data,
    // its device's memory) stops every rank with it, not after a timeout.
    on_every_rank([&] { settle_settings(); });
    if (dp()) describe_ranks();
    checkpoint(nullptr, incomplete_sweep("interrupted before the probe"), "the set-up");
    if (!measure_memory()) return finish();
    if (plan_.throughput_only) {
      if (dp()) time_data_parallel();
      result_.phase_seconds.total = seconds_since(started_);
      return finish();
    }
    on_every_rank([&] { plan_sizes(); });
    if (plan_.whole_run) {
      run_whole();
      result_.phase_seconds.total = seconds_since(started_);
      return finish();
    }
    run_arms();
    measure_noise();
    if (stopped() && !result_.incomplete) {
      result_.incomplete = true;
      result_.incomplete_reason = "interrupted by " + hooks_.stop_cause() + " after the sweep";
    }
    make_recommendation();
    result_.phase_seconds.total = seconds_since(started_);
    return finish();
  }

 private:
  bool stopped() const { return hooks_.stop->load(); }
  void on_every_rank(const std::function<void()>& step) {
    if (dp()) dp()->all_or_none(step);
    else step();
  }
  dist::DataParallel* dp() const { return hooks_.data_parallel; }

  // What a data-parallel sweep does not do (yet), refused before any work,
  // with the same answer on every rank.
  void check_data_parallel_plan() const {
    const dist::DataParallel& d = *dp();
    const std::string world = "a data-parallel sweep (" + d.launch().launcher + ", " +
                              std::to_string(d.world_size()) + " ranks)";
    if (plan_.whole_run) {
      throw UsageError(world + " trains the early sweep's arms; the whole-run tune (--epochs, --train-samples) runs "
                               "in one process: launch it without torchrun/srun, time this world size with "
                               "`sweep --throughput-only` under the launch, and join the two with "
                               "`batchtune report WHOLE.json --step-times THAT.json`");
    }
    if (!plan_.batch_sizes.empty() && plan_.batch_sizes.front() < d.world_size()) {
      throw UsageError("--batch-sizes " + std::to_string(plan_.batch_sizes.front()) + " is smaller than the " +
                       std::to_string(d.world_size()) + " ranks of " + world +
                       ": every rank needs at least one sample of each global batch");
    }
    if (workload_.precision() == Precision::fp16) {
      throw UsageError("--precision fp16 (loss scaling) is not supported in " + world + "; use bf16 or fp32");
    }
    if (plan_.shard_count > 1) throw UsageError("--shard splits arms over machines; " + world + " shares each arm");
  }
  const ProbeResult* probe() const { return outcome_.probe ? &*outcome_.probe : nullptr; }

  void checkpoint(const ProbeResult* p, const SweepResult& so_far, const std::string& phase) {
    if (hooks_.checkpoint) hooks_.checkpoint(build_report(workload_, p, &so_far), phase);
  }

  SweepResult incomplete_sweep(const std::string& why) const {
    SweepResult r = result_;
    r.incomplete = true;
    r.incomplete_reason = why;
    r.phase_seconds.total = seconds_since(started_);
    return r;
  }

  TuneOutcome finish() {
    outcome_.sweep = result_;
    const bool failed = trunk_failed_ || scan_failed_ || std::any_of(result_.arms.begin(), result_.arms.end(),
                                                     [](const SweepArm& a) { return a.status == ArmStatus::failed; });
    outcome_.end = !peer_failure_.empty() ? TuneEnd::rank_failed
                   : failed               ? TuneEnd::model_failed
                   : result_.incomplete   ? TuneEnd::interrupted
                                          : TuneEnd::complete;
    outcome_.report = build_report(workload_, probe(), &result_,
                                   outcome_.recommendation ? &*outcome_.recommendation : nullptr,
                                   outcome_.whole_run ? &*outcome_.whole_run : nullptr);
    return std::move(outcome_);
  }

  // Stopped before any arm: the report holds what the scan or probe measured.
  void stop_before_arms(const std::optional<ProbeResult>& partial, const std::string& phase) {
    outcome_.probe = partial;
    result_ = incomplete_sweep("interrupted by " + hooks_.stop_cause() + " during " + phase + "; no arm ran");
  }

  // Budget, learning-rate rule, caps: everything the workload decides.
  void settle_settings() {
    const auto train_size = workload_.data().train.size();
    const bool auto_sizes = plan_.batch_sizes.empty();
    SweepSettings& s = settings_;
    if (!plan_.budget_kind) {
      s.budget_kind = BudgetKind::samples;
      s.budget_value = double(std::min<std::int64_t>(train_size, 12000));
    } else {
      s.budget_kind = *plan_.budget_kind;
      s.budget_value = plan_.budget_value;
    }
    if (plan_.whole_run && plan_.whole_run->target_accuracy && !workload_.has_accuracy()) {
      throw UsageError("--target-accuracy: --model " + workload_.spec().model + " on --data " + workload_.spec().data +
                       " has no accuracy to reach (" +
                       (workload_.loss_kind() == LossKind::model ? "it returns its own loss" : "a regression loss") +
                       "); give the run's target as --target-loss, or leave it out for the base batch's loss at the "
                       "run's end");
    }
    if (!auto_sizes && plan_.batch_sizes.back() > train_size) {
      throw UsageError("--batch-sizes " + std::to_string(plan_.batch_sizes.back()) +
                       " is larger than the training set (" + std::to_string(train_size) + " samples of --data " +
                       workload_.spec().data + ")");
    }
    s.lr_scaling = plan_.lr_scaling                                      ? *plan_.lr_scaling
                   : workload_.optimizer().kind == OptimizerKind::sgd ? LrScaling::linear
                                                                      : LrScaling::sqrt;
    s.base_batch = plan_.base_batch;
    s.warmup_share = s.lr_scaling == LrScaling::none ? 0.0 : plan_.warmup;
    s.seeds = plan_.seeds;
    s.precision = precision_name(workload_.precision());
    s.target_loss = plan_.target_loss;
    s.shard_index = plan_.shard_index;
    s.shard_count = plan_.shard_count;
    s.data_parallel = hooks_.data_parallel;
    if (dp()) check_data_parallel_plan();

    // Never search above what a sweep could run: the training set,
    // --max-batch and a samples budget (an arm needs one whole batch).
    auto& search = plan_.probe.search;
    cap_ = search.max_batch;
    cap_source_ = "--max-batch";
    if (train_size < cap_) {
      cap_ = train_size;
      cap_source_ = "the training set (" + std::to_string(train_size) + " samples)";
    }
    if (!plan_.whole_run && s.budget_kind == BudgetKind::samples && static_cast<std::int64_t>(s.budget_value) < cap_) {
      cap_ = static_cast<std::int64_t>(s.budget_value);
      cap_source_ = "the samples budget (" + std::to_string(cap_) + " per arm)";
    }
    if (plan_.whole_run) {
      // The whole-run tune measures B_crit, which lies past the throughput
      // knee on most machines: its sizes go up to where the planned run
      // still takes 32 steps, whatever the scan finds.
      const WholeRunPlan& wp = *plan_.whole_run;
      const double run = wp.train_samples ? double(*wp.train_samples) : wp.epochs.value_or(kDefaultEpochs) * double(train_size);
      if (run < 8.0 * double(plan_.base_batch)) {
        throw UsageError("the planned run (" + std::to_string(static_cast<long long>(run)) +
                         " samples) is shorter than 8 steps at --base-batch " + std::to_string(plan_.base_batch) +
                         "; plan a longer run (--epochs, --train-samples) or a smaller --base-batch");
      }
      const auto by_run = static_cast<std::int64_t>(run / 32.0);
      if (by_run < cap_) {
        cap_ = std::max<std::int64_t>(by_run, plan_.base_batch);
        cap_source_ = "the planned run (at least 32 steps at every size)";
      }
      // Sizes above the largest an arm runs at are not predicted, so with
      // auto sizes the probe goes no further than the tune's budget lets the
      // arms reach. (Listed sizes are probed as listed: the arms then drop
      // what the budget cannot run, with a note.)
      plan::BranchedSettings b = branched_settings();
      for (std::int64_t size : auto_batch_sizes(cap_, 16, search.multiple_of)) {
        if (size >= b.base_batch) b.branch_sizes.push_back(size);
      }
      const std::int64_t by_budget = auto_sizes ? plan::largest_arm_size(b) : cap_;
      for (std::int64_t size : b.branch_sizes) {
        if (size > by_budget) {
          beyond_budget_ = size;  // the first size the budget leaves out (the report names the share it needs)
          break;
        }
      }
      if (by_budget < cap_) {
        cap_ = by_budget;
        cap_source_ = "the tune's budget (its arms reach batch " + std::to_string(by_budget) +
                      "; more --tune-share or a longer run reaches further)";
      }
    }
    if (cap_ < search.multiple_of) {
      throw UsageError("--multiple-of " + std::to_string(search.multiple_of) + " is above " + cap_source_ +
                       "; no batch size can be swept");
    }
    search.max_batch = cap_;
  }

  // `auto`: the throughput scan bounds the sizes worth sweeping. Returns
  // false when stopped.
  bool scan_throughput_knee() {
    const auto scan_start = clock_type::now();
    ScanResult scan;
    {
      auto scan_meter = make_meter(workload_, plan_.probe.memory_limit_bytes);
      ScanSettings ss;
      ss.first = 16;
      ss.max_batch = cap_;
      ss.multiple_of = plan_.probe.search.multiple_of;
      if (plan_.throughput_only) ss.min_gain = -1.0;  // every power of two, up to memory or the cap
      if (plan_.whole_run && !plan_.throughput_only) {
        // The arms time every size from the base batch up; the scan only
        // times the sizes below it, which are predicted but not run.
        std::int64_t below = ss.first;
        while (below * 2 < settings_.base_batch) below *= 2;
        ss.max_batch = std::min(cap_, below);
        ss.min_gain = -1.0;
        ss.min_timed_seconds = 0.05;
      }
      ss.stop = hooks_.stop;
      ss.on_point = [&](const std::vector<ScanPoint>& points) {
        SweepResult so_far = incomplete_sweep("interrupted during the throughput scan");
        so_far.throughput_scan = points;
        so_far.phase_seconds.throughput_scan = seconds_since(scan_start);
        checkpoint(nullptr, so_far, "the throughput scan");
      };
      *hooks_.progress << "scan: timing a few steps at powers of two from 16 until samples/s stops growing by 5% "
                          "per doubling\n";
      scan = scan_throughput(workload_, *scan_meter, ss, *hooks_.progress);
    }
    result_.phase_seconds.throughput_scan = seconds_since(scan_start);
    result_.throughput_scan = scan.points;
    result_.throughput_knee = scan.rule;
    if (scan.interrupted) {
      stop_before_arms(std::nullopt, "the throughput scan");
      return false;
    }
    if (scan.knee_found && !plan_.whole_run) {
      plan_.probe.search.max_batch = scan.largest;
      cap_source_ = "the throughput knee";
    }
    return true;
  }

  // The scan (auto sizes) and the probe, or no probe (--force with a list).
  // Returns false when stopped.
  bool measure_memory() {
    const bool auto_sizes = plan_.batch_sizes.empty();
    if (plan_.force && !auto_sizes) {
      if (workload_.device().is_cpu()) {
        std::string source;
        const std::uint64_t budget = plan_.probe.memory_limit_bytes.value_or(usable_memory_bytes(&source));
        meter_ = probes::make_cpu_budget_meter(budget, plan_.probe.memory_limit_bytes ? "--memory-limit" : source);
      } else {
        meter_ = make_meter(workload_, plan_.probe.memory_limit_bytes);
      }
      return true;
    }
    // (A whole-run tune whose base batch is the smallest size has nothing
    // for the scan to time.)
    // Nor under data-parallel: the scan's knee would be one device's, and a
    // rank scanning alone would keep the others waiting.
    const bool scan = !dp() && (plan_.throughput_only || (auto_sizes && !(plan_.whole_run && settings_.base_batch <= 16)));
    if (auto_sizes || plan_.throughput_only) {
      if (scan && !scan_throughput_knee()) return false;
    } else {
      plan_.probe.search.max_batch = std::min(cap_, plan_.batch_sizes.back());
      if (plan_.batch_sizes.back() < cap_) cap_source_ = "--batch-sizes";
    }
    const auto probe_start = clock_type::now();
    if (dp()) {
      // Each rank probes the micro-batch it will carry, on its own device;
      // ranks on one machine share its memory.
      // Listed sizes: the largest micro-batch a rank carries (rounded up: the
      // split may be uneven); automatic sizes: global sizes within the caps.
      const std::int64_t world = dp()->world_size();
      const std::int64_t global = plan_.probe.search.max_batch;
      plan_.probe.search.max_batch = auto_sizes ? std::max<std::int64_t>(1, global / world) : (global + world - 1) / world;
      if (!plan_.probe.memory_limit_bytes && workload_.device().is_cpu()) {
        plan_.probe.memory_limit_bytes = usable_memory_bytes() / std::uint64_t(dp()->launch().local_world_size);
      }
    }
    // Data-parallel: a signal during the probe is not acted on here (one rank
    // leaving the probe alone would leave the others waiting); the first
    // step of the first arm carries it to every rank.
    plan_.probe.stop = dp() ? nullptr : hooks_.stop;
    plan_.probe.on_trial = [&](const ProbeResult& p) {
      checkpoint(&p, incomplete_sweep("interrupted during the probe"), "the probe");
    };
    try {
      on_every_rank([&] { outcome_.probe = run_probe(workload_, plan_.probe, *hooks_.progress); });
    } catch (const ProbeInterrupted& e) {
      result_.phase_seconds.probe = seconds_since(probe_start);
      stop_before_arms(e.partial, "the probe");
      return false;
    }
    result_.phase_seconds.probe = seconds_since(probe_start);
    if (outcome_.probe->capped) outcome_.probe->cap_source = cap_source_;
    meter_ = make_meter(workload_, outcome_.probe->capacity_bytes);
    if (dp()) gather_probes();
    return true;
  }

  // The sizes to sweep, checked against the probe; evaluation cadence.
  void describe_ranks() {
    dist::DataParallel& d = *dp();
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    hosts_ = d.allgather_text(host);
    devices_ = d.allgather_text(workload_.device().str());
    DataParallelInfo info;
    info.world_size = d.world_size();
    info.backend = d.backend();
    info.launcher = d.launch().launcher;
    for (int r = 0; r < d.world_size(); ++r) {
      info.ranks.push_back(RankInfo{r, hosts_[static_cast<std::size_t>(r)], devices_[static_cast<std::size_t>(r)], 0});
    }
    result_.data_parallel = info;
  }

  // The smallest safe micro-batch over the ranks bounds every global size:
  // the report's probe is rank 0's, its fitting and safe sizes made global
  // (that micro-batch x the ranks); each rank's own is in sweep.data_parallel.
  void gather_probes() {
    dist::DataParallel& d = *dp();
    ProbeResult& p = *outcome_.probe;
    const auto safe = d.allgather(p.safe_max_batch);
    const auto fitting = d.allgather(p.largest_fitting_batch);
    const auto min_batch = d.allgather(p.min_batch);
    result_.data_parallel->ranks.clear();
    for (int r = 0; r < d.world_size(); ++r) {
      result_.data_parallel->ranks.push_back(RankInfo{r, hosts_[static_cast<std::size_t>(r)],
                                                      devices_[static_cast<std::size_t>(r)],
                                                      safe[static_cast<std::size_t>(r)]});
    }
    const std::int64_t world = d.world_size();
    p.safe_max_batch = *std::min_element(safe.begin(), safe.end()) * world;
    p.largest_fitting_batch = *std::min_element(fitting.begin(), fitting.end()) * world;
    p.min_batch = *std::max_element(min_batch.begin(), min_batch.end()) * world;
    p.max_batch *= world;
    p.ranks = static_cast<int>(world);
    *hooks_.progress << "probe: data-parallel over " << world << " ranks: the smallest safe micro-batch is "
                     << p.safe_max_batch / world << ", so global batches up to " << p.safe_max_batch << " fit\n";
  }

  void plan_sizes() {
    SweepSettings& s = settings_;
    const ProbeResult* p = probe();
    std::vector<std::int64_t> sizes = plan_.batch_sizes;
    if (p) s.min_batch = p->min_batch;
    // Data-parallel: every rank needs a row of every batch, the last partial
    // one of a samples budget included (without a probe, under --force, too).
    if (dp()) s.min_batch = std::max<std::int64_t>(s.min_batch, dp()->world_size());
    if (sizes.empty()) {
      const std::int64_t smallest = std::max<std::int64_t>(16, p->min_batch);
      sizes = auto_batch_sizes(p->safe_max_batch, smallest, plan_.probe.search.multiple_of);
      s.batch_sizes_source = "auto: powers of two from " + std::to_string(smallest) + " to " +
                             std::to_string(p->safe_max_batch) +
                             (dp() ? " (the probe's safe maximum: the smallest rank's x " +
                                         std::to_string(dp()->world_size()) +
                                         " ranks; no throughput scan under data-parallel)"
                              : p->capped ? " (the largest size the throughput scan and caps allow, verified by the probe)"
                                          : " (the probe's safe maximum)");
    } else {
      s.batch_sizes_source = "--batch-sizes";
      if (p && !plan_.force) {
        for (std::int64_t b : sizes) {
          if (b > p->safe_max_batch) {
            throw DoesNotFitError("--batch-sizes: " + std::to_string(b) + " is above the probe's safe maximum " +
                                  std::to_string(p->safe_max_batch) + " (largest fitting " +
                                  std::to_string(p->largest_fitting_batch) + " in " +
                                  format_bytes(p->capacity_bytes) + "); drop it or pass --force to run it anyway");
          }
          if (b < p->min_batch) {
            throw UsageError("--batch-sizes: the model does not train at batch " + std::to_string(b) + " (" +
                             p->min_batch_reason + ")");
          }
        }
      }
    }
    s.batch_sizes = sizes;
    const std::size_t arms = sizes.size() * static_cast<std::size_t>(s.seeds);
    if (plan_.shard_count > 1 && static_cast<std::size_t>(plan_.shard_count) > arms) {
      throw UsageError("--shard " + std::to_string(plan_.shard_index) + "/" + std::to_string(plan_.shard_count) +
                       ": the sweep plans " + std::to_string(arms) + " arms (" + std::to_string(sizes.size()) +
                       " sizes x " + std::to_string(s.seeds) + " seeds); split it into at most that many parts");
    }
    if (!plan_.whole_run && s.budget_kind == BudgetKind::samples && s.budget_value < double(sizes.back())) {
      throw UsageError("--budget samples=" + std::to_string(static_cast<long long>(s.budget_value)) +
                       " is smaller than one batch of " + std::to_string(sizes.back()) +
                       "; give at least that many samples");
    }
    s.eval_samples = plan_.eval_samples > 0 ? plan_.eval_samples
                     : plan_.whole_run     ? kWholeRunEvalSamples
                                           : default_eval_samples(s.budget_kind, s.budget_value, sizes.front());
    if (plan_.eval_every > 0) {
      s.eval_every_samples = plan_.eval_every;
    } else if (s.budget_kind == BudgetKind::samples) {
      s.eval_every_samples = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.budget_value) / 5);
    } else if (s.budget_kind == BudgetKind::steps) {
      s.eval_every_samples = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.budget_value) * sizes.front() / 5);
    } else {
      s.eval_every_samples = 10000;
    }
  }

  void run_arms() {
    SweepProgress progress;
    progress.out = hooks_.progress;
    progress.live = hooks_.live_progress;
    progress.on_arm_done = [&](const SweepResult& so_far) {
      SweepResult r = so_far;
      keep_earlier_phases(r);
      r.phase_seconds.total = seconds_since(started_);
      r.incomplete_reason = "interrupted during the sweep; " + r.incomplete_reason;
      checkpoint(probe(), r, "the sweep");
    };
    SweepResult swept = run_sweep(workload_, settings_, meter_.get(), progress, *hooks_.stop, &peer_failure_);
    swept.data_parallel = result_.data_parallel;
    keep_earlier_phases(swept);
    result_ = std::move(swept);
    meter_.reset();
    const std::string generic = "interrupted by a signal";
    if (result_.incomplete_reason.compare(0, generic.size(), generic) == 0) {
      result_.incomplete_reason = "interrupted by " + hooks_.stop_cause() + " during the sweep" +
                                  result_.incomplete_reason.substr(generic.size());
    }
  }

  // The scan's and the probe's fields, which run_sweep does not know.
  void keep_earlier_phases(SweepResult& r) const {
    r.throughput_scan = result_.throughput_scan;
    r.throughput_knee = result_.throughput_knee;
    r.phase_seconds.probe = result_.phase_seconds.probe;
    r.phase_seconds.throughput_scan = result_.phase_seconds.throughput_scan;
  }

  // `--throughput-only` under a launch: the throughput scan of this world
  // size. Each global batch (powers of two up to the smallest rank's safe
  // micro-batch x the ranks) trains data-parallel for a short while by rank
  // 0's clock, with nothing evaluated; its mean step (data, compute and the
  // allreduce) becomes the scan's point at that global batch.
  void time_data_parallel() {
    const ProbeResult& p = *probe();
    SweepSettings s = settings_;
    s.min_batch = std::max<std::int64_t>(p.min_batch, dp()->world_size());
    const std::int64_t smallest = std::max<std::int64_t>(16, s.min_batch);
    s.batch_sizes = auto_batch_sizes(p.safe_max_batch, smallest, plan_.probe.search.multiple_of);
    s.batch_sizes_source = "the data-parallel throughput scan's: powers of two from " +
                           std::to_string(s.batch_sizes.front()) + " to " + std::to_string(s.batch_sizes.back()) +
                           " (the smallest rank's safe micro-batch x " + std::to_string(dp()->world_size()) + " ranks)";
    result_.batch_sizes_source = s.batch_sizes_source;
    s.budget_kind = BudgetKind::seconds;
    s.budget_value = kDataParallelTimedSeconds;
    s.seeds = 1;
    s.shard_index = s.shard_count = 1;
    s.warmup_share = 0;
    s.eval_every_samples = 0;
    s.timing_only = true;
    *hooks_.progress << "scan: data-parallel over " << dp()->world_size() << " ranks: timing "
                     << kDataParallelTimedSeconds << " s of steps (by rank 0's clock) at each global batch from "
                     << s.batch_sizes.front() << " to " << s.batch_sizes.back() << "\n";
    const auto start = clock_type::now();
    SweepProgress progress;
    progress.out = hooks_.progress;
    progress.live = hooks_.live_progress;
    progress.on_arm_done = [&](const SweepResult& so_far) {
      SweepResult r = incomplete_sweep("interrupted during the data-parallel throughput scan");
      r.throughput_scan = scan_points(so_far);
      r.phase_seconds.throughput_scan = seconds_since(start);
      checkpoint(probe(), r, "the throughput scan");
    };
    const SweepResult timed = run_sweep(workload_, s, meter_.get(), progress, *hooks_.stop, &peer_failure_);
    meter_.reset();
    result_.throughput_scan = scan_points(timed);
    result_.phase_seconds.throughput_scan = seconds_since(start);
    result_.throughput_knee = "data-parallel over " + std::to_string(dp()->world_size()) + " ranks (" +
                              dp()->backend() + "): " + std::to_string(result_.throughput_scan.size()) + " of " +
                              std::to_string(s.batch_sizes.size()) + " global batches timed, " +
                              format_number(kDataParallelTimedSeconds, "%g") +
                              " s of steps each at a learning rate of 0; peak memory is rank 0's";
    if (timed.incomplete) {
      const bool failed = !peer_failure_.empty() || std::any_of(timed.arms.begin(), timed.arms.end(), [](const SweepArm& a) {
        return a.status == ArmStatus::failed;
      });
      result_.incomplete = true;
      result_.incomplete_reason =
          failed ? "the data-parallel throughput scan stopped: " + timed.incomplete_reason
                 : "interrupted by " + hooks_.stop_cause() + " during the data-parallel throughput scan; " +
                       std::to_string(result_.throughput_scan.size()) + " of " + std::to_string(s.batch_sizes.size()) +
                       " global batches timed";
    }
    // A failed size (the model's own error) ends the command as a failed
    // sweep does (exit 9); the points timed before it stay in the report,
    // whose reason names the size.
    scan_failed_ = std::any_of(timed.arms.begin(), timed.arms.end(),
                               [](const SweepArm& a) { return a.status == ArmStatus::failed; });
  }

  // Completed arms' step times as scan points (global batches).
  static std::vector<ScanPoint> scan_points(const SweepResult& r) {
    std::vector<ScanPoint> points;
    for (const SweepArm& a : r.arms) {
      const auto clock = step_clock_seconds(a);
      if (a.status != ArmStatus::completed || !clock || *clock <= 0) continue;
      ScanPoint pt;
      pt.batch_size = a.batch_size;
      pt.mean_step_seconds = *clock;
      pt.median_step_seconds = a.median_step_seconds.value_or(*clock);
      pt.samples_per_s = double(a.batch_size) / *clock;
      pt.peak_bytes = a.peak_bytes;
      pt.timed_steps = static_cast<int>(a.compute_seconds.size());
      points.push_back(pt);
    }
    return points;
  }

  // The gradient noise scale: the smallest swept size against a larger one
  // that fits, after a short warm-in.
  void measure_noise() {
    const auto& sizes = settings_.batch_sizes;
    const bool model_failed = std::any_of(result_.arms.begin(), result_.arms.end(),
                                          [](const SweepArm& a) { return a.status == ArmStatus::failed; });
    noise_.status = NoiseScaleStatus::not_measured;
    const std::int64_t large = std::min(sizes.back(), std::max<std::int64_t>(sizes.front() * 16, 256));
    if (result_.incomplete) {
      noise_.message = model_failed ? "an arm failed" : "the sweep was interrupted";
      return;
    }
    if (plan_.noise_repeats == 0) {
      noise_.message = "--noise-repeats 0";
      return;
    }
    if (dp() && dp()->rank() != 0) {
      noise_.message = "measured by rank 0";
      return;
    }
    if (plan_.shard_index != 1) {
      // Once for the whole sweep; `merge` takes it from the first part.
      noise_.message = "measured by shard 1/" + std::to_string(plan_.shard_count);
      return;
    }
    if (large <= sizes.front()) {
      noise_.message = "needs a batch size larger than " + std::to_string(sizes.front()) + " that fits";
      return;
    }
    SweepResult before_noise = result_;
    before_noise.incomplete = true;
    before_noise.incomplete_reason = "interrupted while measuring the gradient noise scale; every arm finished";
    before_noise.phase_seconds.total = seconds_since(started_);
    checkpoint(probe(), before_noise, "the gradient noise measurement");
    NoiseScaleSettings ns;
    ns.small_batch = sizes.front();
    ns.large_batch = large;
    ns.repeats = plan_.noise_repeats;
    ns.seed = workload_.spec().seed;
    ns.stop = hooks_.stop;
    *hooks_.progress << "sweep: measuring the gradient noise scale (batch " << ns.small_batch << " against "
                     << ns.large_batch << ", " << ns.repeats << " repeats, after " << ns.warm_in_steps
                     << " warm-in steps)\n";
    const auto noise_start = clock_type::now();
    try {
      noise_ = measure_noise_scale(workload_, ns, workload_.optimizer().learning_rate);
    } catch (const std::exception& e) {
      // Every arm is measured: a failure here costs the noise scale only.
      noise_ = NoiseScale{};
      noise_.status = NoiseScaleStatus::not_measured;
      noise_.small_batch = ns.small_batch;
      noise_.large_batch = ns.large_batch;
      noise_.message = probes::is_out_of_memory(e)
                           ? "batch " + std::to_string(large) + " ran out of memory while measuring it"
                           : "the measurement failed: " + describe_model_error(e);
      *hooks_.progress << "sweep: the gradient noise scale was not measured: " << noise_.message << '\n';
    }
    result_.phase_seconds.noise_scale = seconds_since(noise_start);
    if (stopped()) {
      result_.incomplete = true;
      result_.incomplete_reason = "interrupted by " + hooks_.stop_cause() +
                                  " while measuring the gradient noise scale; every arm finished";
    }
  }

  // The whole-run tune: a trunk at the base batch along the planned run,
  // arms branched from it at every planned size, the run predicted at each.
  void run_whole() {
    const WholeRunPlan& wp = *plan_.whole_run;
    const ProbeResult* p = probe();
    plan::BranchedSettings b = branched_settings();
    // Arms at the base batch and above: below it every size scales within
    // the noise of a short arm (B_crit is far above), and S(B) carries the
    // prediction down; the budget goes to the sizes around the knee.
    for (std::int64_t size : settings_.batch_sizes) {
      if (size >= settings_.base_batch) b.branch_sizes.push_back(size);
    }
    b.candidate_sizes = settings_.batch_sizes;
    if (beyond_budget_ && (b.branch_sizes.empty() || *beyond_budget_ > b.branch_sizes.back())) {
      b.next_size_left_out = beyond_budget_;
    }
    if (p && (b.base_batch > p->safe_max_batch || b.base_batch < p->min_batch)) {
      throw UsageError("--base-batch " + std::to_string(b.base_batch) +
                       " is where the whole-run tune trains its trunk, and it is outside what the probe allows (" +
                       std::to_string(p->min_batch) + " to " + std::to_string(p->safe_max_batch) +
                       "); give a --base-batch in that range");
    }
    if (wp.step_seconds.empty()) {
      for (const auto& pt : result_.throughput_scan) {
        if (pt.mean_step_seconds > 0) b.extra_step_seconds.emplace_back(pt.batch_size, pt.mean_step_seconds);
      }
      b.extra_step_seconds_source = "the throughput scan's for sizes no arm ran";
    } else {
      b.extra_step_seconds = wp.step_seconds;
      b.extra_step_seconds_source = wp.step_seconds_source;
    }
    b.eval_samples = settings_.eval_samples;
    b.progress = hooks_.progress;
    b.stop = hooks_.stop;
    b.on_progress = [&](const WholeRun& so_far, const std::string& phase) {
      SweepResult r = incomplete_sweep("interrupted during the whole-run tune (" + phase + ")");
      if (hooks_.checkpoint) {
        hooks_.checkpoint(build_report(workload_, probe(), &r, nullptr, &so_far), "the whole-run tune");
      }
    };
    const auto start = clock_type::now();
    WorkloadTrainer trainer(workload_, settings_.eval_samples, meter_.get());
    plan::BranchedResult r = plan::run_branched(trainer, b);
    meter_.reset();
    result_.phase_seconds.training = seconds_since(start);
    // The settings as the report records them; the run's length stands in
    // for the per-arm budget, and the scan's and probe's phases are kept.
    SweepResult record = sweep_settings_record(workload_, settings_);
    record.budget_value = double(b.run.train_samples);
    record.seeds = 1;
    record.phase_seconds = result_.phase_seconds;
    keep_earlier_phases(record);
    result_ = std::move(record);
    r.whole_run.tune_seconds = seconds_since(start);
    outcome_.whole_run = std::move(r.whole_run);
    if (r.end == plan::BranchedEnd::interrupted) {
      result_.incomplete = true;
      result_.incomplete_reason = "interrupted by " + hooks_.stop_cause() + ": " + r.message;
      return;
    }
    if (r.end == plan::BranchedEnd::trunk_failed) {
      result_.incomplete = true;
      result_.incomplete_reason = r.message + "; lower --lr or --base-batch";
      trunk_failed_ = true;
      return;
    }
    outcome_.recommendation = recommend_whole_run(*outcome_.whole_run, p ? p->safe_max_batch : settings_.batch_sizes.back(),
                                                   p && p->capped);
  }

  // The whole-run tune's settings that the plan and the workload decide
  // (the run, the base batch and rate, the shares); the sizes come later.
  plan::BranchedSettings branched_settings() const {
    const WholeRunPlan& wp = *plan_.whole_run;
    const std::int64_t train_size = workload_.data().train.size();
    plan::BranchedSettings b;
    if (wp.train_samples) {
      b.run.train_samples = *wp.train_samples;
      b.run.source = "--train-samples " + std::to_string(*wp.train_samples);
    } else {
      const double epochs = wp.epochs.value_or(kDefaultEpochs);
      b.run.epochs = epochs;
      b.run.train_samples = static_cast<std::int64_t>(std::llround(epochs * double(train_size)));
      b.run.source = wp.epochs ? "--epochs " + format_number(epochs, "%g")
                               : "default: " + format_number(epochs, "%g") + " epochs";
    }
    b.run.target_loss = plan_.target_loss;
    b.run.target_accuracy = wp.target_accuracy;
    b.base_batch = settings_.base_batch;
    b.base_learning_rate = workload_.optimizer().learning_rate;
    b.lr_scaling = settings_.lr_scaling;
    b.trunk_share = wp.trunk_share;
    b.branch_points = wp.branch_points;
    b.budget_share = wp.budget_share;
    b.lr_grid = wp.lr_grid;
    b.rate_finalists = wp.rate_finalists;
    b.seed = workload_.spec().seed;
    return b;
  }

  void make_recommendation() {
    if (result_.incomplete) return;
    if (plan_.shard_count > 1) {
      // One part's arms are not the evidence: no answer until all are merged.
      // The record keeps the objective and the noise scale for `merge`.
      Recommendation r;
      r.objective = plan_.objective;
      r.status = RecommendationStatus::none;
      r.confidence = Confidence::none;
      r.target_loss = result_.target_loss;
      r.noise_scale = noise_;
      r.validation_loss_tolerance = plan_.max_validation_loss_excess;
      r.reasons.push_back("This report is part " + std::to_string(plan_.shard_index) + " of " +
                          std::to_string(plan_.shard_count) + " of a sweep (--shard): it holds " +
                          std::to_string(result_.arms.size()) + " of its " +
                          std::to_string(result_.shard ? result_.shard->arms_planned : 0) +
                          " arms. Join the parts with `batchtune merge PART1.json ... -o report.json` for the "
                          "recommendation.");
      outcome_.recommendation = r;
      return;
    }
    RecommendSettings rs;
    rs.objective = plan_.objective;
    if (plan_.effective_batch > 0) rs.effective_batch = plan_.effective_batch;
    rs.max_validation_loss_excess = plan_.max_validation_loss_excess;
    try {
      outcome_.recommendation = recommend(result_, probe(), workload_.info(), noise_, rs);
    } catch (const std::exception& e) {
      // The measurements are still worth writing.
      outcome_.recommendation_error = e.what();
      *hooks_.progress << "sweep: error: the recommendation could not be computed (" << e.what()
                       << "); the report holds the measurements without one\n";
    }
  }

  const Workload& workload_;
  TunePlan plan_;
  TuneHooks hooks_;
  std::string peer_failure_;                    // data-parallel: why another rank is gone
  std::vector<std::string> hosts_, devices_;    // data-parallel: every rank's, in rank order
  clock_type::time_point started_;
  std::ostream null_{nullptr};  // progress when the caller wants none: discarded
  const std::atomic<bool> never_{false};
  SweepSettings settings_;
  std::int64_t cap_ = 0;
  std::string cap_source_;
  std::optional<std::int64_t> beyond_budget_;  // the first auto size the tune's budget left out
  std::unique_ptr<probes::MemoryMeter> meter_;
  SweepResult result_;
  NoiseScale noise_;
  TuneOutcome outcome_;
  bool trunk_failed_ = false;
  bool scan_failed_ = false;  // a size of the data-parallel throughput scan failed (the model's error)
};

}  // namespace

TuneOutcome tune(const Workload& workload, TunePlan plan, const TuneHooks& hooks) {
  return Tuner(workload, std::move(plan), hooks).run();
}

}  // namespace batchtune
