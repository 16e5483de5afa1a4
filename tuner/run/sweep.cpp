#include "tuner/run/sweep.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <ostream>

#include "probes/cuda_adapter.hpp"
#include "probes/oom.hpp"
#include "reports/util/error.hpp"
#include "reports/model/machine_info.hpp"
#include "reports/util/statistics.hpp"
#include "reports/util/text_util.hpp"
#include "tuner/workload/machine_probe.hpp"

namespace batchtune {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr double kExplosion = 1000.0;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) probes::cuda_synchronize(device.index());
}

// Fewer timed steps than this and an arm is timed on extra steps instead.
constexpr std::size_t kMinTimedSteps = 5;

struct ArmPlan {
  std::int64_t batch = 0;
  std::uint64_t seed = 0;
  double lr = 0;
  std::int64_t planned_steps = 0;  // 0: until the seconds budget runs out
  std::int64_t total_samples = 0;  // samples budget: exactly this many
  double seconds = 0;              // seconds budget
  std::int64_t warmup_steps = 0;
};

// Where a sweep stands, for the progress line's whole-sweep ETA.
struct SweepClock {
  clock_type::time_point start = clock_type::now();
  std::size_t arms_total = 0;
  std::size_t arms_done = 0;
  double evaluation_seconds = 0;  // every arm's validation passes so far
  // Data-parallel: some rank was asked to stop at an arm's end; the sweep
  // ends on every rank after this arm.
  bool stop_all = false;
};

// Data-parallel: the ranks' verdicts where they could differ (setting up an
// arm, an evaluation, the arm's end), so that every rank takes the same path
// and makes the same collective calls. 0 fine, 1 asked to stop, 2 out of
// memory, 3 failed; the worst wins, with the first rank that had it.
struct Verdict {
  int code = 0;
  int rank = 0;
};
Verdict agree(dist::DataParallel& dp, int mine) {
  const auto all = dp.allgather(mine);
  Verdict v;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r] > v.code) v = Verdict{static_cast<int>(all[r]), static_cast<int>(r)};
  }
  return v;
}
int verdict_of(ArmStatus s) {
  return s == ArmStatus::out_of_memory ? 2 : s == ArmStatus::failed || s == ArmStatus::diverged ? 3 : 0;
}

// The data-parallel arm's baseline: rank 0 alone steps the whole global
// batch (after the arm: its weights no longer matter) while the others wait
// at a barrier, so the scaling efficiency is against one device at the same
// batch. Out of memory or a failure leaves it unmeasured, never the arm.
void time_one_rank(const Workload& w, dist::DataParallel& dp, Model& model, torch::optim::Optimizer& optimizer,
                   std::int64_t batch, BatchSampler& sampler, SweepArm& arm) {
  // The others wait at most --dist-timeout: rank 0's six steps alone, at
  // about ranks x its data-parallel step each, must fit well within it.
  // Decided on rank 0's figure, so every rank decides the same.
  const auto means = dp.allgather_double(*arm.mean_step_seconds);
  const double expected_s = 6.0 * double(dp.world_size()) * means.front();
  if (expected_s > 0.25 * std::chrono::duration<double>(dp.timeout()).count()) return;
  double ok = 1;
  std::vector<double> times;
  if (dp.rank() == 0) {
    try {
      for (std::size_t i = 0; i < kMinTimedSteps + 1; ++i) {
        const auto t0 = clock_type::now();
        auto [x, y] = w.next_batch(sampler, batch);
        synchronize(w.device());
        train_step(model, optimizer, w, x, y).item<double>();
        if (i > 0) times.push_back(seconds_since(t0));  // the first pays for allocator growth
      }
    } catch (const std::exception&) {
      drain_autograd(w.device());
      ok = 0;
    }
  }
  const auto single = dp.allgather_double(ok > 0 && !times.empty() ? *mean_of(times) : 0.0);
  if (single.front() > 0) {
    arm.single_rank_step_seconds = single.front();
    arm.scaling_efficiency = single.front() / (double(dp.world_size()) * *arm.mean_step_seconds);
  }
}

SweepArm run_arm(const Workload& w, const SweepSettings& s, const ArmPlan& plan, probes::MemoryMeter* meter,
                 const SweepProgress& progress, const std::string& label, const std::atomic<bool>& stop,
                 SweepClock& clock) {
  SweepArm arm;
  arm.batch_size = plan.batch;
  arm.seed = plan.seed;
  arm.learning_rate = plan.lr;
  const torch::Device& device = w.device();
  // Setting up the arm (a CUDA OOM moving the model, a model that fails to
  // copy) ends the arm as data, like a failed step, never the sweep's report.
  std::unique_ptr<Model> model;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  try {
    if (meter) meter->begin_trial();
    model = w.make_model(plan.seed);
    {
      torch::NoGradGuard no_grad;
      double sum = 0;
      for (const auto& p : model->parameters()) sum += p.sum().item<double>();
      arm.initial_weights_sum = sum;
    }
    optimizer = w.make_optimizer(*model, plan.lr);
  } catch (const dist::PeerFailure&) {
    throw;
  } catch (const std::exception& e) {
    arm.status = probes::is_out_of_memory(e) ? ArmStatus::out_of_memory : ArmStatus::failed;
    arm.failed_at_step = 0;
    arm.message = "setting up the arm (model and optimizer) failed: " + describe_model_error(e);
    drain_autograd(device);
    if (!s.data_parallel) return arm;
  }
  dist::DataParallel* dp = s.data_parallel;
  if (dp) {
    const Verdict v = agree(*dp, verdict_of(arm.status));
    if (v.code >= 2) {
      if (arm.status == ArmStatus::completed) {
        arm.status = v.code == 2 ? ArmStatus::out_of_memory : ArmStatus::failed;
        arm.failed_at_step = 0;
        arm.message = "rank " + std::to_string(v.rank) + " failed setting up the arm (its own output names the error)";
      }
      return arm;
    }
  }
  // The same initial weights on every rank, whatever each built.
  if (dp) dp->broadcast_model(*model);
  BatchSampler sampler = w.make_sampler(plan.seed);
  const BatchSampler first_sampler = sampler;  // replayed after the arm for its padding
  LossScaler scaler;
  // One step of `batch` samples: this process alone, or its rows of the
  // global batch with the gradients summed over the ranks. Data, compute and
  // communication seconds apart; a rank's failure or stop request reaches
  // every rank in the same step (the data-parallel step carries them).
  struct Step {
    double loss = 0, data_s = 0, compute_s = 0, comm_s = 0;
    double rank0_clock = 0;  // data-parallel: rank 0's training seconds before this step
    bool stop = false;
    std::optional<dist::StepOutcome> failed;  // data-parallel: some rank failed; nothing was stepped
  };
  auto one_step = [&](std::int64_t batch, double seconds_so_far) {
    Step st;
    const auto t0 = clock_type::now();
    if (dp) {
      const auto [begin, end] = dist::rank_rows(batch, dp->rank(), dp->world_size());
      auto [x, y] = w.next_batch_rows(sampler, batch, begin, end);
      synchronize(device);
      st.data_s = seconds_since(t0);
      dist::StepOutcome o = dist::data_parallel_step(*dp, *model, *optimizer, w, x, y, batch, stop.load(), seconds_so_far);
      st.rank0_clock = o.rank0_clock;
      st.loss = o.loss;
      st.compute_s = o.compute_seconds;
      st.comm_s = o.communication_seconds;
      st.stop = o.stop;
      if (o.failed_rank) st.failed = std::move(o);
      return st;
    }
    auto [x, y] = w.next_batch(sampler, batch);
    synchronize(device);
    const auto t1 = clock_type::now();
    st.loss = train_step(*model, *optimizer, w, x, y, &scaler).item<double>();  // synchronises
    st.data_s = std::chrono::duration<double>(t1 - t0).count();
    st.compute_s = seconds_since(t1);
    return st;
  };
  // The first steps pay for allocator growth and kernel selection.
  const std::int64_t excluded = plan.planned_steps == 0 || plan.planned_steps > 4 ? 2 : 0;
  arm.warmup_steps_excluded = excluded;

  double train_seconds = 0;
  double first_loss = 0;
  std::int64_t next_eval = s.eval_every_samples;
  auto last_progress = clock_type::now();
  // An evaluation that runs out of memory ends the arm like a training OOM
  // (as data, with the report written), instead of ending the sweep.
  // A failure that is not memory ends the arm as `failed` with the model's
  // own message; run_sweep then stops.
  auto fail = [&](const std::exception& e, std::int64_t step, const std::string& where) {
    arm.status = ArmStatus::failed;
    arm.failed_at_step = step;
    arm.message = where + ": " + describe_model_error(e);
  };
  double eval_seconds = 0;
  // Data-parallel ranks evaluate the same weights at a rank's share of the
  // batch, the size the probe measured.
  const std::int64_t eval_batch =
      std::min(s.eval_batch_size, dp ? (plan.batch + dp->world_size() - 1) / dp->world_size() : plan.batch);
  auto evaluate_here = [&] {
    const auto t0 = clock_type::now();
    try {
      const Evaluation e = w.evaluate(*model, s.eval_samples, eval_batch);
      arm.evaluations.push_back(EvalPoint{arm.steps, arm.samples, train_seconds, e.loss, e.accuracy});
      eval_seconds += seconds_since(t0);
      return true;
    } catch (const std::exception& e) {
      eval_seconds += seconds_since(t0);
      model->set_training(true);
      const std::string where = "validation at batch " + std::to_string(eval_batch);
      if (!probes::is_out_of_memory(e)) {
        fail(e, arm.steps, where + " failed");
        return false;
      }
      arm.status = ArmStatus::out_of_memory;
      arm.failed_at_step = arm.steps;
      arm.message = where + " ran out of memory: " + describe_model_error(e);
      return false;
    }
  };

  // Data-parallel: an evaluation that failed on one rank ends the arm on all.
  auto evaluate = [&] {
    const bool ok = evaluate_here();
    if (!dp) return ok;
    const Verdict v = agree(*dp, ok ? 0 : verdict_of(arm.status) == 0 ? 3 : verdict_of(arm.status));
    if (v.code >= 2 && ok) {
      arm.status = v.code == 2 ? ArmStatus::out_of_memory : ArmStatus::failed;
      arm.failed_at_step = arm.steps;
      arm.message = "rank " + std::to_string(v.rank) + "'s validation failed (its own output names the error)";
    }
    return v.code < 2;
  };

  // A seconds budget under data-parallel reads rank 0's clock (shared in
  // each step), so every rank ends the arm at the same step: one step later
  // than rank 0 alone would.
  double shared_clock = 0;
  for (std::int64_t step = 1;; ++step) {
    if (plan.planned_steps > 0 && step > plan.planned_steps) break;
    if (plan.planned_steps == 0 && (dp ? shared_clock : train_seconds) >= plan.seconds) break;
    // Data-parallel ranks stop together: the step carries the request.
    if (!dp && stop.load()) {
      arm.status = ArmStatus::interrupted;
      arm.message = "stopped by a signal";
      break;
    }
    std::int64_t batch = plan.batch;
    if (plan.total_samples > 0) {
      // The last batch is partial, but never below the size the model trains at.
      batch = std::min(batch, std::max(plan.total_samples - arm.samples, std::min(s.min_batch, plan.batch)));
      if (arm.samples >= plan.total_samples) break;
    }
    if (plan.warmup_steps > 0 && step <= plan.warmup_steps) {
      set_learning_rate(*optimizer, plan.lr * double(step) / double(plan.warmup_steps));
    } else if (plan.warmup_steps > 0 && step == plan.warmup_steps + 1) {
      set_learning_rate(*optimizer, plan.lr);
    }
    double loss = 0;
    double data_s = 0, compute_s = 0, comm_s = 0;
    bool stop_after = false;
    try {
      Step st = one_step(batch, train_seconds);
      if (st.failed) {
        arm.status = st.failed->failed_out_of_memory ? ArmStatus::out_of_memory : ArmStatus::failed;
        arm.failed_at_step = step;
        arm.message = "training step " + std::to_string(step) + " at batch " + std::to_string(batch) + ": " +
                      st.failed->failure;
        break;
      }
      loss = st.loss;
      data_s = st.data_s;
      compute_s = st.compute_s;
      comm_s = st.comm_s;
      stop_after = st.stop;
      shared_clock = st.rank0_clock;
    } catch (const dist::PeerFailure&) {
      throw;
    } catch (const std::exception& e) {
      if (!probes::is_out_of_memory(e)) {
        fail(e, step, "training step " + std::to_string(step) + " at batch " + std::to_string(batch) + " failed");
        break;
      }
      arm.status = ArmStatus::out_of_memory;
      arm.failed_at_step = step;
      arm.message = describe_model_error(e) +
                    " (the probe judged this size safe: the margin was too small or memory varies)";
      break;
    }
    train_seconds += data_s + compute_s + comm_s;
    arm.steps = step;
    arm.samples += batch;
    arm.train_loss.push_back(LossPoint{step, arm.samples, train_seconds, loss});
    if (batch == plan.batch && step > excluded) {
      arm.compute_seconds.push_back(compute_s);
      arm.data_seconds.push_back(data_s);
      if (dp) arm.communication_seconds.push_back(comm_s);
    }
    if (step == 1) first_loss = loss;
    // Diverged: not finite, or a thousand times the first loss (an explosion
    // that would reach infinity a few steps later).
    if (!std::isfinite(loss) || loss > kExplosion * std::max(first_loss, 1.0)) {
      arm.status = ArmStatus::diverged;
      arm.failed_at_step = step;
      char number[64];
      std::snprintf(number, sizeof number, "%.4g (%.3gx its first, %.4g)", loss, loss / std::max(first_loss, 1e-30),
                    first_loss);
      const std::string what = std::isnan(loss) ? "not a number" : std::isinf(loss) ? "infinite" : number;
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.4g", plan.lr);
      arm.message = "training loss became " + what + " at step " + std::to_string(step) + " (learning rate " + rate + ")";
      break;
    }
    if (s.eval_every_samples > 0 && !s.timing_only && arm.samples >= next_eval) {
      if (!evaluate()) break;
      while (next_eval <= arm.samples) next_eval += s.eval_every_samples;
    }
    if (stop_after) {
      arm.status = ArmStatus::interrupted;
      arm.message = "stopped by a signal (on some rank) after step " + std::to_string(step);
      break;
    }
    if (progress.out && progress.live && seconds_since(last_progress) > 0.5) {
      last_progress = clock_type::now();
      char line[200];
      const double rate = double(arm.samples) / std::max(train_seconds, 1e-9);
      double eta = 0;
      if (plan.total_samples > 0) eta = double(plan.total_samples - arm.samples) / std::max(rate, 1e-9);
      else if (plan.planned_steps > 0) eta = double(plan.planned_steps - step) * train_seconds / double(step);
      else eta = plan.seconds - train_seconds;
      eta = std::max(0.0, eta);
      // The whole sweep: this arm's rest, then the arms after it at the mean
      // wall time (training and evaluation) of the arms so far, or of this
      // one projected when it is the first.
      const double elapsed = seconds_since(clock.start);
      const double this_arm_total = train_seconds + eval_seconds + eta;
      const double per_arm = clock.arms_done > 0 ? (elapsed - train_seconds - eval_seconds) / double(clock.arms_done)
                                                 : this_arm_total;
      const double sweep_eta = eta + double(clock.arms_total - clock.arms_done - 1) * per_arm;
      std::snprintf(line, sizeof line, "\r%s: step %lld, loss %.4f, %.0f samples/s, arm ETA %.0f s, sweep ETA %.0f s   ",
                    label.c_str(), static_cast<long long>(step), loss, rate, eta, std::max(0.0, sweep_eta));
      *progress.out << line << std::flush;
    }
  }
  arm.train_seconds = train_seconds;
  if (arm.status == ArmStatus::completed || arm.status == ArmStatus::interrupted) {
    if (arm.steps > 0 && arm.status == ArmStatus::completed && !s.timing_only &&
        (arm.evaluations.empty() || arm.evaluations.back().samples != arm.samples)) {
      evaluate();
    }
  }
  if (arm.status != ArmStatus::completed && arm.status != ArmStatus::interrupted) drain_autograd(device);
  if (dp) {
    // A stop seen by one rank between steps reaches the others here.
    if (agree(*dp, stop.load() ? 1 : 0).code > 0) clock.stop_all = true;
    // Evidence that the ranks stayed in step: each one's weights, summed.
    torch::NoGradGuard no_grad;
    double sum = 0;
    for (const auto& p : model->parameters()) sum += p.to(torch::kFloat64).sum().item<double>();
    arm.final_weights_sum_per_rank = dp->allgather_double(sum);
  }
  if (!arm.evaluations.empty() && arm.status == ArmStatus::completed) {
    arm.final_validation_loss = arm.evaluations.back().loss;
    arm.final_validation_accuracy = arm.evaluations.back().accuracy;
    // The same weights on as many training samples: the generalisation gap.
    // Not timed as training; a failure here leaves it unmeasured.
    const auto t0 = clock_type::now();
    try {
      arm.final_training_loss =
          w.evaluate_training(*model, s.eval_samples, std::min(s.eval_batch_size, plan.batch)).loss;
    } catch (const std::exception&) {
      model->set_training(true);
      drain_autograd(device);
    }
    eval_seconds += seconds_since(t0);
  }
  // An arm the budget gave few steps (the largest sizes under equal samples)
  // would rest its throughput on one or two of them, the first one cold. Its
  // times are taken instead from extra full steps after the last evaluation,
  // which change nothing else the report keeps.
  const bool stopping = dp ? clock.stop_all : stop.load();
  if (arm.status == ArmStatus::completed && arm.compute_seconds.size() < kMinTimedSteps && !stopping) {
    // Taken in temporaries: a failure here keeps the arm's own timings and
    // status (its training finished), with a note.
    std::vector<double> compute, data, comm;
    std::string failure;
    for (std::size_t i = 0; i < kMinTimedSteps && (dp || !stop.load()); ++i) {
      try {
        const Step st = one_step(plan.batch, 0.0);
        if (st.failed) {
          failure = st.failed->failure;
          break;
        }
        data.push_back(st.data_s);
        compute.push_back(st.compute_s);
        comm.push_back(st.comm_s);
        if (st.stop) {
          clock.stop_all = true;  // every rank saw it in the same step
          break;
        }
      } catch (const dist::PeerFailure&) {
        throw;
      } catch (const std::exception& e) {
        drain_autograd(device);
        failure = describe_model_error(e);
        break;
      }
    }
    if (compute.size() == kMinTimedSteps) {
      arm.compute_seconds = std::move(compute);
      arm.data_seconds = std::move(data);
      if (dp) arm.communication_seconds = std::move(comm);
      arm.timing_only_steps = static_cast<std::int64_t>(kMinTimedSteps);
    } else if (!failure.empty()) {
      arm.message = "extra timing steps failed (" + failure + "); timed on the arm's own steps";
    }
  }
  if (const auto t = step_times_of(step_total_seconds(arm))) {
    double data_sum = 0;
    for (double d : arm.data_seconds) data_sum += d;
    arm.mean_step_seconds = t->mean_s;  // the step clock: every figure below is made of it
    arm.median_step_seconds = t->median_s;
    arm.p10_step_seconds = t->p10_s;
    arm.p90_step_seconds = t->p90_s;
    arm.samples_per_s = double(plan.batch) / t->mean_s;
    arm.steps_per_s = 1.0 / t->mean_s;
    const double all_sum = t->mean_s * double(t->steps);
    arm.data_share = all_sum > 0 ? data_sum / all_sum : 0.0;
    if (dp) arm.compute_share = *mean_of(arm.compute_seconds) / t->mean_s;
  }
  if (meter) arm.peak_bytes = meter->peak_bytes();
  arm.padding_share = w.padding_share(first_sampler, plan.batch, arm.steps);
  if (dp && arm.status == ArmStatus::completed && arm.mean_step_seconds && !clock.stop_all && !s.timing_only) {
    time_one_rank(w, *dp, *model, *optimizer, plan.batch, sampler, arm);
  }
  clock.evaluation_seconds += eval_seconds;
  return arm;
}

}  // namespace

std::vector<std::int64_t> auto_batch_sizes(std::int64_t safe_max, std::int64_t smallest, std::int64_t multiple_of) {
  std::vector<std::int64_t> sizes;
  // The first multiple of --multiple-of at or above `smallest`, then doublings
  // (multiples too), so a multiple such as 12 still gives a spread of sizes.
  const std::int64_t m = std::max<std::int64_t>(1, multiple_of);
  std::int64_t b = (std::max(smallest, m) + m - 1) / m * m;
  while (b < safe_max) {
    sizes.push_back(b);
    b *= 2;
  }
  sizes.push_back(safe_max);
  return sizes;
}

SweepResult sweep_settings_record(const Workload& w, const SweepSettings& s) {
  SweepResult r;
  r.budget_kind = s.budget_kind;
  r.budget_value = s.budget_value;
  r.lr_scaling = s.lr_scaling;
  r.base_batch = s.base_batch;
  r.base_learning_rate = w.optimizer().learning_rate;
  r.warmup_share = s.warmup_share;
  r.eval_every_samples = s.eval_every_samples;
  r.eval_samples = s.eval_samples > 0 ? std::min(s.eval_samples, w.data().validation.size()) : w.data().validation.size();
  if (s.target_loss) give_target(r, *s.target_loss);
  r.seeds = s.seeds;
  r.precision = s.precision;
  if (w.data().train.extents.defined()) r.batching = w.spec().batching;
  r.batch_sizes_source = s.batch_sizes_source;
  return r;
}

SweepResult run_sweep(const Workload& w, const SweepSettings& s, probes::MemoryMeter* meter,
                      const SweepProgress& progress, const std::atomic<bool>& stop, std::string* peer_failure) {
  SweepResult r = sweep_settings_record(w, s);
  // The conditions the step times hold for (reports/analysis/timing_quality.hpp).
  double load_core_seconds = 0, load_seconds = 0;
  r.timing_conditions = TimingConditions{at::get_num_threads(), usable_core_count(), std::nullopt};
  auto note_load = [&] {
    if (load_seconds > 0) r.timing_conditions->other_cpu_cores = load_core_seconds / load_seconds;
  };

  const std::size_t planned_arms = s.batch_sizes.size() * static_cast<std::size_t>(s.seeds);
  std::size_t total_arms = 0;  // this shard's
  for (std::size_t i = 0; i < planned_arms; ++i) total_arms += arm_in_shard(i, s.shard_index, s.shard_count);
  if (s.shard_count > 1) {
    r.shard = ShardInfo{s.shard_index, s.shard_count, s.batch_sizes, static_cast<int>(planned_arms)};
  }
  std::size_t index = 0;
  std::size_t planned_index = 0;
  bool stopped_with_peers = false;
  SweepClock clock;
  clock.arms_total = total_arms;
  const SweepArm* failed = nullptr;
  // Seed by seed (every size for the first seed, then the next): a slow
  // spell of a shared machine then lands on different sizes for each seed
  // instead of on every seed of one size.
  for (int k = 0; k < s.seeds; ++k) {
    for (std::int64_t batch : s.batch_sizes) {
      if (failed || stopped_with_peers) break;
      if (!arm_in_shard(planned_index++, s.shard_index, s.shard_count)) continue;
      if (s.data_parallel) {
        // A signal that reached one rank between arms stops every rank here,
        // before any starts the next arm (alone it would wait for the others).
        try {
          if (agree(*s.data_parallel, stop.load() ? 1 : 0).code > 0) {
            stopped_with_peers = true;
            break;
          }
        } catch (const dist::PeerFailure& e) {
          r.incomplete = true;
          r.incomplete_reason = std::string("data-parallel: before the arm at batch ") + std::to_string(batch) + ": " +
                                e.what() + "; " + std::to_string(r.arms.size()) + " of " +
                                std::to_string(total_arms) + " arms finished before it";
          if (progress.out) *progress.out << (progress.live ? "\n" : "") << "sweep: " << e.what() << '\n';
          if (peer_failure) *peer_failure = e.what();
          note_load();
          summarise_sweep(r);
          return r;
        }
      } else if (stop.load()) {
        break;
      }
      ArmPlan plan;
      plan.batch = batch;
      plan.seed = w.spec().seed + static_cast<std::uint64_t>(k);
      // Timing only: every step's work at a rate of zero, as the throughput
      // scan's (the weights never move, so no size can diverge).
      plan.lr = s.timing_only ? 0.0 : scaled_learning_rate(s.lr_scaling, w.optimizer().learning_rate, s.base_batch, batch);
      if (s.budget_kind == BudgetKind::samples) {
        plan.total_samples = static_cast<std::int64_t>(s.budget_value);
        plan.planned_steps = (plan.total_samples + batch - 1) / batch;
      } else if (s.budget_kind == BudgetKind::steps) {
        plan.planned_steps = static_cast<std::int64_t>(s.budget_value);
      } else {
        plan.seconds = s.budget_value;
      }
      if (plan.planned_steps > 0 && s.warmup_share > 0) {
        plan.warmup_steps = static_cast<std::int64_t>(std::ceil(s.warmup_share * double(plan.planned_steps)));
      }
      const std::string label = "sweep: arm " + std::to_string(++index) + "/" + std::to_string(total_arms) +
                                " batch " + std::to_string(batch) + " seed " + std::to_string(plan.seed);
      SweepArm arm;
      const auto cpu_before = read_cpu_times();
      const auto arm_started = clock_type::now();
      try {
        arm = run_arm(w, s, plan, meter, progress, label, stop, clock);
        if (!s.data_parallel) {
          const double wall_s = seconds_since(arm_started);
          arm.other_cpu_cores = other_cpu_cores(cpu_before, read_cpu_times(), wall_s);
          if (arm.other_cpu_cores) {
            load_core_seconds += *arm.other_cpu_cores * wall_s;
            load_seconds += wall_s;
          }
        }
      } catch (const dist::PeerFailure& e) {
        // This rank is fine; another is gone. The arms so far are the report.
        r.incomplete = true;
        r.incomplete_reason = std::string("data-parallel: the arm at batch ") + std::to_string(batch) + " (seed " +
                              std::to_string(plan.seed) + ") stopped: " + e.what() + "; " +
                              std::to_string(r.arms.size()) + " of " + std::to_string(total_arms) +
                              " arms finished before it";
        if (progress.out) *progress.out << (progress.live ? "\n" : "") << "sweep: " << e.what() << '\n';
        if (peer_failure) *peer_failure = e.what();
        note_load();
        summarise_sweep(r);
        return r;
      }
      ++clock.arms_done;
      if (progress.out) {
        char line[256];
        std::snprintf(line, sizeof line, "%s%s: %s, %lld steps, %s samples/s, val loss %s\n", progress.live ? "\r" : "",
                      label.c_str(), nlohmann::json(arm.status).get<std::string>().c_str(),
                      static_cast<long long>(arm.steps),
                      arm.samples_per_s ? std::to_string(static_cast<long long>(*arm.samples_per_s)).c_str() : "-",
                      arm.final_validation_loss ? std::to_string(*arm.final_validation_loss).c_str() : "-");
        *progress.out << line << std::flush;
      }
      r.arms.push_back(std::move(arm));
      if (r.arms.back().status == ArmStatus::failed) failed = &r.arms.back();
      // A stop that reached this rank through a step or an arm's end (another rank's signal).
      if (s.data_parallel && (r.arms.back().status == ArmStatus::interrupted || clock.stop_all)) {
        stopped_with_peers = true;
      }
      r.phase_seconds.training += r.arms.back().train_seconds;
      r.phase_seconds.evaluation = clock.evaluation_seconds;
      if (progress.on_arm_done) {
        SweepResult so_far = r;
        so_far.incomplete = true;
        so_far.incomplete_reason = "stopped after " + std::to_string(r.arms.size()) + " of " +
                                   std::to_string(total_arms) + " arms";
        summarise_sweep(so_far);
        progress.on_arm_done(so_far);
      }
    }
    if (failed || stopped_with_peers) break;
  }
  if (s.data_parallel && !failed && !stopped_with_peers) {
    // A signal that reached one rank after the last arm's own agreement
    // (while rank 0 timed the batch alone) stops every rank the same way.
    try {
      if (agree(*s.data_parallel, stop.load() ? 1 : 0).code > 0) stopped_with_peers = true;
    } catch (const dist::PeerFailure& e) {
      r.incomplete = true;
      r.incomplete_reason = std::string("data-parallel: after the last arm: ") + e.what();
      if (peer_failure) *peer_failure = e.what();
      note_load();
      summarise_sweep(r);
      return r;
    }
  }
  if (failed) {
    r.incomplete = true;
    r.incomplete_reason = "the arm at batch " + std::to_string(failed->batch_size) + " (seed " +
                          std::to_string(failed->seed) + ") failed: " + failed->message + "; " +
                          std::to_string(r.arms.size() - 1) + " of " + std::to_string(total_arms) +
                          " arms finished before it";
  } else if (stop.load() || stopped_with_peers) {
    r.incomplete = true;
    const bool cut = !r.arms.empty() && r.arms.back().status == ArmStatus::interrupted;
    r.incomplete_reason = "interrupted by a signal after " + std::to_string(r.arms.size()) + " of " +
                          std::to_string(total_arms) + " arms" +
                          (cut ? "; the last is partial (status interrupted)" : "; none was cut short");
  }
  note_load();
  summarise_sweep(r);
  return r;
}

}  // namespace batchtune
