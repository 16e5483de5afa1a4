#include "tuner/plan/branched.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iterator>
#include <map>
#include <set>
#include <ostream>

#include "reports/model/machine_info.hpp"
#include "reports/run_analysis/predict_run.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune::plan {
namespace {

using clock_type = std::chrono::steady_clock;

// The timing pass's level: the trunk's mean step over the pass's base-batch
// time is applied where it lies between 1 and this.
constexpr double kMaxLevel = 1.5;

// The finalists' rate arms: these times the rule's rate.
constexpr double kRateFactors[] = {0.5, 2.0};

std::int64_t arm_samples(std::int64_t span, std::int64_t batch, std::int64_t min_steps) {
  const std::int64_t samples = std::max(span, min_steps * batch);
  return (samples + batch - 1) / batch * batch;
}

// The arms' sizes: the branch sizes and the base batch itself (its arm is
// what the others are held against).
std::vector<std::int64_t> arm_sizes(const BranchedSettings& s) {
  std::vector<std::int64_t> sizes = s.branch_sizes;
  if (std::find(sizes.begin(), sizes.end(), s.base_batch) == sizes.end()) sizes.push_back(s.base_batch);
  std::sort(sizes.begin(), sizes.end());
  return sizes;
}

// Arms per size: the whole learning-rate grid at the last branch point, the
// grid's best at the others.
int arms_per_size(const BranchedSettings& s) { return (2 * s.lr_grid + 1) + std::max(0, s.branch_points - 1); }

// The trunk's steps at which the branch points lie: evenly up to 70% of it,
// and never inside the warm-up.
std::vector<std::int64_t> branch_steps(std::int64_t trunk_steps, std::int64_t warmup_steps, int points) {
  std::vector<std::int64_t> steps;
  for (int i = 0; i < points; ++i) {
    const double share = 0.7 * double(i + 1) / double(points);
    std::int64_t step = std::max<std::int64_t>(warmup_steps + 1, std::llround(share * double(trunk_steps)));
    step = std::min(step, trunk_steps);
    if (steps.empty() || step > steps.back()) steps.push_back(step);
  }
  return steps;
}

// The trunk's warm-up steps: warmup_share of the run's steps at the base
// batch, at most a third of the trunk.
std::int64_t warmup_steps_of(const BranchedSettings& s, std::int64_t trunk_steps) {
  const std::int64_t run_steps = std::max<std::int64_t>(1, s.run.train_samples / s.base_batch);
  return std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(s.warmup_share * double(run_steps))),
                                trunk_steps / 3);
}

// The branch points whose base-batch arm (at the rule's rate, `arm_steps`
// steps) the trunk stands in for: past the warm-up, ending within the
// trunk, and not overlapping the window before (one average is kept for it
// at a time).
std::vector<bool> trunk_replays(const std::vector<std::int64_t>& points, std::int64_t warmup,
                                std::int64_t trunk_steps, std::int64_t arm_steps) {
  std::vector<bool> replay(points.size(), false);
  std::int64_t last_end = -1;
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (points[p] <= warmup || points[p] + arm_steps > trunk_steps || points[p] <= last_end) continue;
    replay[p] = true;
    last_end = points[p] + arm_steps;
  }
  return replay;
}

// The samples the arms train: every size's at every point, less the base
// batch's arms at the rule's rate that the trunk runs.
std::int64_t arms_cost(const std::vector<std::int64_t>& sizes, std::int64_t span, const BranchedSettings& s,
                       bool with_rates = true) {
  std::int64_t total = 0;
  for (std::int64_t b : sizes) total += arm_samples(span, b, s.min_arm_steps);
  total *= arms_per_size(s);
  // The finalists' rate arms, reserved at the largest sizes (the finalists
  // are chosen after the other arms).
  if (with_rates && s.lr_grid == 0 && s.rate_finalists > 0) {
    int reserved = 0;
    for (auto it = sizes.rbegin(); it != sizes.rend() && reserved < s.rate_finalists; ++it, ++reserved) {
      total += static_cast<std::int64_t>(std::size(kRateFactors)) * arm_samples(span, *it, s.min_arm_steps);
    }
  }
  if (std::find(sizes.begin(), sizes.end(), s.base_batch) != sizes.end()) {
    const std::int64_t trunk_steps = trunk_steps_of(s);
    const std::int64_t warmup = warmup_steps_of(s, trunk_steps);
    const std::int64_t base = arm_samples(span, s.base_batch, s.min_arm_steps);
    const auto replay = trunk_replays(branch_steps(trunk_steps, warmup, s.branch_points), warmup, trunk_steps,
                                      base / s.base_batch);
    total -= base * std::count(replay.begin(), replay.end(), true);
  }
  return total;
}

struct TimingPass {
  std::map<std::int64_t, double> seconds;  // size -> its fastest round's mean step
  int rounds = 0;
  std::int64_t samples = 0;
  double train_seconds = 0;
};

// Every size in `sizes` timed again, interleaved: rounds of one block of
// steps at every size (ascending one round, descending the next, so a drift
// in load meets every size at both ends), at learning rate 0 from a kept
// state, so nothing is learnt and every size sees the same weights. A
// block's mean step counts its own stalls, and each size's time is its
// fastest round: a busy machine preempts a block at random, so the least
// preempted round lies nearest the step's own cost, and taken for every
// size it keeps their ratios (measured beside two CPU hogs on 2 cores: the
// median over rounds read the base batch 1.4-68x its quiet time, and the
// pick was 1.24-1.32x the best; on a quiet machine the median overstated
// short runs' mean step by 25-35%, through each block's first step after a
// switch of size).
// A block is 4 base batches of samples (1 to 16 steps). The rounds (3 to
// timing_rounds) fit in timing_share of the run's samples, or on a loaded
// machine (others used `loaded` or more cores so far) in
// timing_share_loaded; none where three do not fit.
TimingPass interleaved_step_times(Trainer& trainer, const std::vector<std::int64_t>& sizes, std::int64_t b0,
                                  const BranchedSettings& s, int snapshot, bool loaded) {
  TimingPass pass;
  if (sizes.empty()) return pass;
  auto block_steps = [&](std::int64_t b) { return std::clamp<std::int64_t>((4 * b0 + b - 1) / b, 1, 16); };
  std::int64_t per_round = 0;
  for (std::int64_t b : sizes) per_round += block_steps(b) * b;
  const double share = loaded ? std::max(s.timing_share, s.timing_share_loaded) : s.timing_share;
  const auto budget = static_cast<std::int64_t>(share * double(s.run.train_samples));
  const int rounds =
      static_cast<int>(std::min<std::int64_t>(s.timing_rounds, budget / std::max<std::int64_t>(1, per_round)));
  if (rounds < 3) return pass;
  trainer.restore(snapshot);
  std::map<std::int64_t, std::vector<double>> blocks;
  std::set<std::int64_t> failed;  // a size whose step failed (memory): its arms' time stands
  for (int r = 0; r < rounds; ++r) {
    if (s.stop && s.stop->load()) break;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::int64_t b = r % 2 == 0 ? sizes[i] : sizes[sizes.size() - 1 - i];
      if (failed.count(b)) continue;
      double sum = 0;
      const std::int64_t n = block_steps(b);
      for (std::int64_t k = 0; k < n; ++k) {
        const StepOutcome o = trainer.step(b, 0.0);
        pass.samples += b;
        pass.train_seconds += o.seconds;
        if (o.status != ArmStatus::completed) {
          failed.insert(b);
          break;
        }
        sum += o.seconds;
      }
      if (!failed.count(b)) blocks[b].push_back(sum / double(n));
    }
  }
  for (const auto& [b, v] : blocks) {
    if (!failed.count(b) && int(v.size()) == rounds) pass.seconds[b] = *std::min_element(v.begin(), v.end());
  }
  pass.rounds = rounds;
  return pass;
}

}  // namespace

std::pair<std::int64_t, std::vector<std::int64_t>> plan_arm_span(const BranchedSettings& s, std::int64_t trunk_samples) {
  std::vector<std::int64_t> sizes = arm_sizes(s);
  const std::int64_t budget =
      static_cast<std::int64_t>(s.budget_share * double(s.run.train_samples)) - trunk_samples;
  const std::int64_t longest = std::max<std::int64_t>(s.base_batch, trunk_samples / 5);
  // Drop sizes from the top while even the shortest arms overrun (the base
  // batch's arm stays: the others are held against it). The sizes are
  // chosen before the finalists' rate arms, which only shorten the span:
  // reach comes first (a bound on B_crit costs more than a rate by the rule).
  while (!sizes.empty() && arms_cost(sizes, 0, s, false) > budget) {
    if (sizes.back() == s.base_batch) break;
    sizes.pop_back();
  }
  if (sizes.empty() || arms_cost(sizes, 0, s, false) > budget) return {0, {}};
  // Arms shorter than a tenth of the trunk measure mostly the switch to a new
  // size: the largest sizes go first until the rest get that much (keeping
  // two sizes above the base batch where it can).
  const std::int64_t shortest = std::max<std::int64_t>(s.base_batch, trunk_samples / 10);
  auto above_base = [&] {
    return std::count_if(sizes.begin(), sizes.end(), [&](std::int64_t b) { return b > s.base_batch; });
  };
  while (above_base() > 2 && arms_cost(sizes, shortest, s, false) > budget) sizes.pop_back();
  std::int64_t lo = 0, hi = longest;
  if (arms_cost(sizes, hi, s) <= budget) return {hi, sizes};
  while (hi - lo > 1) {
    const std::int64_t mid = (lo + hi) / 2;
    (arms_cost(sizes, mid, s) <= budget ? lo : hi) = mid;
  }
  return {std::max<std::int64_t>(lo, s.base_batch), sizes};
}

std::int64_t trunk_steps_of(const BranchedSettings& s) {
  return std::max<std::int64_t>(
      8, static_cast<std::int64_t>(std::ceil(s.trunk_share * double(s.run.train_samples) / double(s.base_batch))));
}

std::int64_t largest_arm_size(const BranchedSettings& s) {
  const auto sizes = plan_arm_span(s, trunk_steps_of(s) * s.base_batch).second;
  return sizes.empty() ? s.base_batch : std::max(sizes.back(), s.base_batch);
}

BranchedResult run_branched(Trainer& trainer, const BranchedSettings& s) {
  static std::ostream null_stream(nullptr);
  std::ostream& out = s.progress ? *s.progress : null_stream;
  const auto stopped = [&] { return s.stop && s.stop->load(); };
  BranchedResult result;
  WholeRun& w = result.whole_run;
  const auto cpu_at_start = read_cpu_times();
  const auto started = clock_type::now();
  w.run = s.run;
  w.base_batch = s.base_batch;
  w.base_learning_rate = scaled_learning_rate(s.lr_scaling, s.base_learning_rate, s.base_batch, s.base_batch);
  w.lr_scaling = s.lr_scaling;
  w.lr_grid = s.lr_grid;
  w.eval_samples = s.eval_samples;

  const std::int64_t b0 = s.base_batch;
  const std::int64_t trunk_steps = trunk_steps_of(s);
  const std::int64_t warmup = warmup_steps_of(s, trunk_steps);
  w.trunk_warmup_steps = warmup;
  const auto points = branch_steps(trunk_steps, warmup, s.branch_points);
  // (Plain names, not a structured binding: the lambdas below capture them.)
  const auto planned_arms = plan_arm_span(s, trunk_steps * b0);
  const std::int64_t span = planned_arms.first;
  const std::vector<std::int64_t>& sizes = planned_arms.second;
  const std::int64_t eval_every = std::max<std::int64_t>(1, trunk_steps / std::max(1, s.trunk_evaluations));
  const std::int64_t noise_every = std::max<std::int64_t>(1, trunk_steps / std::max(1, s.noise_measurements));
  const std::int64_t noise_large = s.noise_large_batch > 0 ? s.noise_large_batch : 4 * b0;
  const double lr0 = w.base_learning_rate;

  out << "whole run: trunk at batch " << b0 << " for " << trunk_steps << " steps (" << trunk_steps * b0
      << " samples, " << static_cast<int>(std::lround(100.0 * double(trunk_steps * b0) / double(std::max<std::int64_t>(1, s.run.train_samples))))
      << "% of the planned run), " << points.size() << " branch points, arms of " << span << " samples at";
  for (std::int64_t b : sizes) out << ' ' << b;
  out << (s.lr_grid > 0 ? " (" + std::to_string(2 * s.lr_grid + 1) + " learning rates each)" : std::string()) << "\n";
  w.tune_share = s.budget_share;
  std::optional<std::int64_t> next;
  if (sizes.size() < arm_sizes(s).size()) {
    next = arm_sizes(s)[sizes.size()];
  } else if (s.next_size_left_out && (sizes.empty() || *s.next_size_left_out > sizes.back())) {
    next = s.next_size_left_out;
  }
  if (next) {
    // The first size the budget left out, and the share that would run it
    // (the analysis says so where B_crit reaches past the largest arm).
    w.next_arm_size = next;
    // Whole hundredths above the share given, so the one named runs the arm.
    const int first = static_cast<int>(std::floor(100.0 * s.budget_share + 1e-9)) + 1;
    for (int k = first; k <= 100; ++k) {
      BranchedSettings more = s;
      more.branch_sizes.push_back(*next);
      std::sort(more.branch_sizes.begin(), more.branch_sizes.end());
      more.branch_sizes.erase(std::unique(more.branch_sizes.begin(), more.branch_sizes.end()), more.branch_sizes.end());
      more.budget_share = 0.01 * k;
      const auto kept = plan_arm_span(more, trunk_steps * b0).second;
      if (std::find(kept.begin(), kept.end(), *next) != kept.end()) {
        w.tune_share_for_next_arm = more.budget_share;
        break;
      }
    }
  }

  // --- the trunk ---------------------------------------------------------
  trainer.reset(s.seed);
  double train_seconds = 0;
  std::int64_t samples = 0;
  std::vector<double> trunk_step_times;
  std::deque<double> recent_losses;
  std::deque<GradientNorms> recent_norms;
  std::vector<int> snapshots;
  std::vector<std::int64_t> snapshot_steps;
  auto eval_trunk = [&](std::int64_t step) {
    const EvalOutcome e = trainer.evaluate();
    w.trunk.push_back(TrunkPoint{step, samples, train_seconds, e.loss, e.accuracy, std::nullopt});
  };
  eval_trunk(0);
  // The base batch's arm at the rule's rate repeats the trunk from its point
  // (same state, data order and rate, past the warm-up): the trunk stands in
  // for it where its steps end within the trunk and its window does not
  // overlap the one before (one average is kept for it at a time).
  struct Replay {
    std::int64_t from = 0, steps = 0;  // the point's step, the arm's steps
    BranchArm arm;
    std::vector<double> times;
    bool averaging = false;
  };
  std::map<std::size_t, Replay> replays;  // by branch point
  if (std::find(sizes.begin(), sizes.end(), b0) != sizes.end()) {
    const std::int64_t steps = arm_samples(span, b0, s.min_arm_steps) / b0;
    const auto replay = trunk_replays(points, warmup, trunk_steps, steps);
    for (std::size_t p = 0; p < points.size(); ++p) {
      if (!replay[p]) continue;
      Replay r;
      r.from = points[p];
      r.steps = steps;
      r.arm.batch_size = b0;
      r.arm.lr_factor = 1.0;
      r.arm.learning_rate = lr0;
      r.arm.from_trunk = true;
      replays[p] = r;
    }
  }
  if (!replays.empty()) {
    out << "whole run: the trunk itself is batch " << b0 << "'s arm (at the rule's rate) at " << replays.size()
        << " of " << points.size() << " branch points\n";
  }
  // The replay whose window a trunk step lies in, if any.
  auto replay_at = [&](std::int64_t step) -> Replay* {
    for (auto& [p, r] : replays) {
      if (step > r.from && step <= r.from + r.steps) return &r;
    }
    return nullptr;
  };
  std::size_t next_point = 0;
  bool trunk_averaging = false;
  for (std::int64_t step = 1; step <= trunk_steps; ++step) {
    if (stopped()) {
      result.end = BranchedEnd::interrupted;
      result.message = "interrupted during the trunk at step " + std::to_string(step);
      w.trunk_samples = samples;
      return result;
    }
    const double lr = step <= warmup ? lr0 * double(step) / double(warmup) : lr0;
    const StepOutcome o = trainer.step(b0, lr);
    if (o.status != ArmStatus::completed) {
      result.end = BranchedEnd::trunk_failed;
      result.message = "the trunk at batch " + std::to_string(b0) + " stopped at step " + std::to_string(step) + ": " +
                       (o.message.empty() ? to_string(o.status) : o.message);
      w.trunk_samples = samples;
      return result;
    }
    samples += b0;
    train_seconds += o.seconds;
    if (step > 2) trunk_step_times.push_back(o.seconds);
    if (Replay* r = replay_at(step)) {
      // As run_arm's own loop: averaged from the arm's middle on, else raw
      // evaluations at a half and three quarters pooled with the end's.
      const std::int64_t k = step - r->from;
      BranchArm& arm = r->arm;
      arm.steps = k;
      arm.samples += b0;
      arm.train_seconds += o.seconds;
      if (k > 2) r->times.push_back(o.seconds);
      const std::int64_t eval_at[] = {arm_average_start(r->steps), std::max<std::int64_t>(1, 3 * r->steps / 4)};
      if (k == eval_at[0] && k < r->steps && r->steps >= 4) r->averaging = trainer.begin_average(1);
      if (!r->averaging && k < r->steps && (k == eval_at[0] || k == eval_at[1])) {
        const double l = trainer.evaluate().loss;
        if (std::isfinite(l)) arm.evaluations.push_back(ArmEvaluation{arm.samples, l});
      }
      if (k == r->steps) {
        arm.end_loss = trainer.evaluate().loss;
        if (std::isfinite(*arm.end_loss)) {
          arm.evaluations.push_back(ArmEvaluation{arm.samples, *arm.end_loss});
        } else {
          arm.status = ArmStatus::diverged;
          arm.message = "the evaluation loss at the arm's end is not finite";
          arm.end_loss.reset();
        }
        if (r->averaging) {
          const auto a = trainer.evaluate_average(1);
          if (a && std::isfinite(a->loss)) arm.averaged_loss = a->loss;
        }
        arm.mean_step_seconds = mean_of(r->times);
        arm.median_step_seconds = median_of(r->times);
      }
    }
    recent_losses.push_back(o.loss);
    if (recent_losses.size() > 20) recent_losses.pop_front();
    if (step % noise_every == 0 && step > warmup) {
      if (auto n = trainer.gradient_norms(b0, noise_large)) {
        recent_norms.push_back(*n);
        if (recent_norms.size() > 6) recent_norms.pop_front();
        double small = 0, large = 0;
        for (const auto& r : recent_norms) {
          small += r.small_norm_sq / double(recent_norms.size());
          large += r.large_norm_sq / double(recent_norms.size());
        }
        const double b = double(b0), B = double(noise_large);
        TrunkNoisePoint p;
        p.samples = samples;
        p.loss = mean_of(std::vector<double>(recent_losses.begin(), recent_losses.end())).value_or(o.loss);
        p.gradient_norm_sq = (B * large - b * small) / (B - b);
        p.trace_covariance = (small - large) / (1.0 / b - 1.0 / B);
        if (p.gradient_norm_sq > 0) p.simple_noise_scale = p.trace_covariance / p.gradient_norm_sq;
        w.trunk_noise.push_back(p);
      }
    }
    const bool at_point = next_point < points.size() && step == points[next_point];
    if (step % eval_every == 0 || at_point || step == trunk_steps) {
      eval_trunk(step);
      // In the later half, each point also evaluates the weights averaged
      // since the point before, and starts the next average.
      if (trunk_averaging) {
        if (const auto a = trainer.evaluate_average(); a && std::isfinite(a->loss)) w.trunk.back().averaged_loss = a->loss;
      }
      if (2 * step >= trunk_steps && step < trunk_steps) trunk_averaging = trainer.begin_average();
    }
    if (at_point) {
      snapshots.push_back(trainer.save());
      snapshot_steps.push_back(step);
      BranchPoint bp;
      bp.trunk_step = step;
      bp.trunk_samples = samples;
      bp.loss = w.trunk.back().loss;
      bp.span_samples = span;
      w.branch_points.push_back(bp);
      ++next_point;
    }
    if (step % eval_every == 0) {
      char line[160];
      std::snprintf(line, sizeof line, "whole run: trunk step %lld/%lld, %lld samples, eval loss %.4f\n",
                    static_cast<long long>(step), static_cast<long long>(trunk_steps), static_cast<long long>(samples),
                    w.trunk.back().loss);
      out << line << std::flush;
    }
  }
  w.trunk_samples = samples;
  w.tune_samples = samples;
  w.tune_seconds = train_seconds;
  if (s.on_progress) s.on_progress(w, "the trunk");

  // --- the arms ----------------------------------------------------------
  // The last point first, with the whole learning-rate grid; the earlier
  // points then run each size at the factor that was best there (the last
  // point lies nearest the run's target, where the rate matters most).
  std::map<std::int64_t, std::vector<double>> step_times;
  std::map<std::int64_t, std::pair<double, double>> best_factor;  // size -> (end loss, factor)
  std::set<std::int64_t> rule_failed;
  // One arm: from point p's kept state, `factor` times the rule's rate at
  // size b; its step times join the size's.
  auto run_arm = [&](std::size_t p, std::int64_t b, double factor) {
    trainer.restore(snapshots[p]);
    BranchArm arm;
    arm.batch_size = b;
    arm.lr_factor = factor;
    arm.learning_rate = scaled_learning_rate(s.lr_scaling, s.base_learning_rate, s.base_batch, b) * arm.lr_factor;
    const std::int64_t steps = arm_samples(span, b, s.min_arm_steps) / b;
    // The arm's rate from its first step: under the scaling rule the
    // rate over the batch stays the trunk's, and a ramp from the trunk's
    // rate would run small sizes hot and large ones cold at the start.
    std::vector<double> times;
    // A rate several times the trunk's, switched on at once, throws a
    // trained model off (mlp on Fashion-MNIST, SGD with momentum 0.9:
    // 0.75 -> 1.05 in 4 steps at 1024 from 64 under the linear rule, 16x).
    // Without momentum to rescale, above twice the trunk's rate it ramps
    // up over the arm's first quarter, as a run at that size warms up.
    // With momentum the buffer is scaled to the new rate instead, which
    // makes the step continuous at the branch (the buffer then refills at
    // the arm's own rate over the momentum's time constant).
    // Adam's second moment, an average over ~1000 trunk steps, holds the
    // trunk's batch's gradient noise; a short arm at a larger batch would
    // never shed it (plan::Trainer::relevel_second_moment).
    if (b != s.base_batch) arm.second_moment_rescale = trainer.relevel_second_moment(s.base_batch, b);
    const double rescale = lr0 / arm.learning_rate;
    const std::optional<double> momentum = trainer.rescale_momentum(rescale);
    if (momentum) {
      arm.momentum = *momentum;
      arm.momentum_rescale = rescale;
    }
    const bool ramp = !momentum && arm.learning_rate > 2.0 * lr0;
    const std::int64_t ramp_steps = ramp ? std::max<std::int64_t>(2, steps / 4) : 0;
    // From the arm's middle on, its weights are averaged (where the
    // trainer keeps an average), and the average is evaluated at the end;
    // otherwise raw evaluations at a half and three quarters are pooled
    // with the end's.
    const std::int64_t eval_at[] = {arm_average_start(steps), std::max<std::int64_t>(1, 3 * steps / 4)};
    bool averaging = false;
    for (std::int64_t k = 1; k <= steps; ++k) {
      if (stopped()) break;
      const double lr = k <= ramp_steps ? lr0 + (arm.learning_rate - lr0) * double(k) / double(ramp_steps)
                                        : arm.learning_rate;
      const StepOutcome o = trainer.step(b, lr);
      if (o.status != ArmStatus::completed) {
        arm.status = o.status;
        arm.message = o.message;
        break;
      }
      arm.steps = k;
      arm.samples += b;
      arm.train_seconds += o.seconds;
      if (k > 2) times.push_back(o.seconds);
      if (k == eval_at[0] && k < steps && steps >= 4) averaging = trainer.begin_average();
      if (!averaging && k < steps && (k == eval_at[0] || k == eval_at[1])) {
        const double l = trainer.evaluate().loss;
        if (std::isfinite(l)) arm.evaluations.push_back(ArmEvaluation{arm.samples, l});
      }
    }
    if (stopped() && arm.status == ArmStatus::completed && arm.steps < steps) arm.status = ArmStatus::interrupted;
    if (arm.status == ArmStatus::completed) {
      arm.end_loss = trainer.evaluate().loss;
      if (std::isfinite(*arm.end_loss)) arm.evaluations.push_back(ArmEvaluation{arm.samples, *arm.end_loss});
      if (averaging) {
        const auto a = trainer.evaluate_average();
        if (a && std::isfinite(a->loss)) arm.averaged_loss = a->loss;
      }
    }
    if (arm.end_loss && !std::isfinite(*arm.end_loss)) {
      arm.status = ArmStatus::diverged;
      arm.message = "the evaluation loss at the arm's end is not finite";
      arm.end_loss.reset();
    }
    arm.mean_step_seconds = mean_of(times);
    arm.median_step_seconds = median_of(times);
    for (double t : times) step_times[b].push_back(t);
    w.tune_samples += arm.samples;
    w.tune_seconds += arm.train_seconds;
    return arm;
  };
  std::vector<std::size_t> order;
  for (std::size_t p = snapshots.size(); p-- > 0;) order.push_back(p);
  bool first_point = true;
  for (std::size_t p : order) {
    BranchPoint& bp = w.branch_points[p];
    for (std::int64_t b : sizes) {
      std::vector<double> factors;
      if (first_point) {
        for (int j = -s.lr_grid; j <= s.lr_grid; ++j) factors.push_back(std::pow(2.0, j));
      } else {
        // The rule's rate; where it failed at the last point, the grid's best there.
        factors.push_back(rule_failed.count(b) && best_factor.count(b) ? best_factor[b].second : 1.0);
      }
      for (double factor : factors) {
        if (stopped()) {
          result.end = BranchedEnd::interrupted;
          result.message = "interrupted during the arms at branch point " + std::to_string(p + 1);
          return result;
        }
        const auto replay = replays.find(p);
        if (b == b0 && std::abs(factor - 1.0) < 1e-9 && replay != replays.end() &&
            replay->second.arm.steps == replay->second.steps) {
          // The trunk ran this arm (its samples and seconds are the trunk's).
          const BranchArm& arm = replay->second.arm;
          if (first_point && !arm.end_loss) rule_failed.insert(b);
          if (first_point && arm.end_loss) {
            auto it = best_factor.find(b);
            if (it == best_factor.end() || *arm.end_loss < it->second.first) best_factor[b] = {*arm.end_loss, factor};
          }
          bp.arms.push_back(arm);
          char line[200];
          std::snprintf(line, sizeof line, "whole run: point %zu/%zu (loss %.4f): batch %lld lr %.4g: the trunk, end loss %s\n",
                        p + 1, snapshots.size(), bp.loss, static_cast<long long>(b), arm.learning_rate,
                        arm.end_loss ? std::to_string(*arm.end_loss).c_str() : "-");
          out << line << std::flush;
          continue;
        }
        BranchArm arm = run_arm(p, b, factor);
        if (first_point && std::abs(factor - 1.0) < 1e-9 && !arm.end_loss) rule_failed.insert(b);
        if (first_point && arm.end_loss) {
          auto it = best_factor.find(b);
          if (it == best_factor.end() || *arm.end_loss < it->second.first) best_factor[b] = {*arm.end_loss, factor};
        }
        bp.arms.push_back(arm);
        char line[200];
        std::snprintf(line, sizeof line, "whole run: point %zu/%zu (loss %.4f): batch %lld lr %.4g: %s, end loss %s\n",
                      p + 1, snapshots.size(), bp.loss, static_cast<long long>(b), arm.learning_rate,
                      to_string(arm.status).c_str(),
                      arm.end_loss ? std::to_string(*arm.end_loss).c_str() : "-");
        out << line << std::flush;
        if (s.on_progress) s.on_progress(w, "the arms");
      }
    }
    first_point = false;
  }

  // The step times so far (the step clock, statistics.hpp): the scan's, each
  // size's arms' mean, and the trunk's own mean step for the base batch.
  auto step_table = [&] {
    std::map<std::int64_t, double> t;
    for (const auto& [b, v] : s.extra_step_seconds) t[b] = v;
    for (const auto& [b, times] : step_times) {
      if (const auto m = mean_of(times)) t[b] = *m;
    }
    if (const auto m = mean_of(trunk_step_times)) t[b0] = *m;
    return t;
  };

  // --- step times and the analysis ------------------------------------------
  std::map<std::int64_t, double> table = step_table();
  w.step_times_source = "measured in the arms and the trunk" +
                        (s.extra_step_seconds.empty() ? std::string() : "; " + s.extra_step_seconds_source);
  // The trunk, the scan and each size's arms ran minutes apart: a load that
  // came and went between them (a build beside the tune) would move one
  // size's time and not the next, and flip the pick (measured: the trunk's
  // base-batch step read 145 ms against 10 ms in a quiet sweep, and the pick
  // was 1.72x slower). The interleaved pass times every size again in
  // rounds, a short block of steps at each size per round, so that load
  // moves every size alike; its times replace the others where it ran.
  if (s.timing_rounds > 0 && !snapshots.empty() && !stopped()) {
    std::vector<std::int64_t> timed;
    const std::int64_t top = sizes.empty() ? b0 : std::max(sizes.back(), b0);
    for (const auto& [b, t] : table) {
      if (b <= top) timed.push_back(b);
    }
    const auto load = other_cpu_cores(cpu_at_start, read_cpu_times(),
                                      std::chrono::duration<double>(clock_type::now() - started).count());
    const auto pass = interleaved_step_times(trainer, timed, b0, s, snapshots.back(), load && *load >= kLoadedMachineCores);
    if (!pass.seconds.empty()) {
      // The pass gives the sizes' ratios; their level is the trunk's own
      // mean step at the base batch, over its hundreds to thousands of steps
      // (a size's fastest block reads below the mean step a run has: the
      // pass read 0.79-0.87 of the truth's clock on mlp/Fashion-MNIST, the
      // trunk's mean 0.93-0.97). The fastest block can only read low of the
      // same machine's mean: below 1 the pass was the slowed one, and far
      // above (quiet: 1.05-1.25) the trunk was; then the pass stands alone.
      double level = 1.0;
      std::string levelled;
      const auto base = pass.seconds.find(b0);
      const auto trunk_mean = mean_of(trunk_step_times);
      if (base != pass.seconds.end() && base->second > 0 && trunk_mean && *trunk_mean > 0 &&
          trunk_step_times.size() >= 8) {
        const double r = *trunk_mean / base->second;
        char line[200];
        if (r >= 1.0 && r <= kMaxLevel) {
          level = r;
          std::snprintf(line, sizeof line, ", levelled to the trunk's mean step at batch %lld (x%.2f)",
                        static_cast<long long>(b0), level);
        } else {
          std::snprintf(line, sizeof line,
                        "; not levelled to the trunk's mean step at batch %lld, %.2fx the pass's: the load "
                        "differed between them", static_cast<long long>(b0), r);
        }
        levelled = line;
      }
      for (const auto& [b, t] : pass.seconds) table[b] = t * level;
      w.tune_samples += pass.samples;
      w.timing_samples = pass.samples;
      w.tune_seconds += pass.train_seconds;
      w.step_times_source = "an interleaved timing pass (" + std::to_string(pass.rounds) +
                            " rounds over every size, each size's fastest block" + levelled + ")" +
                            (pass.seconds.size() < table.size() ? "; the arms' and the scan's for the rest"
                                                                : std::string());
      out << "whole run: timing pass, " << pass.rounds << " rounds over " << pass.seconds.size() << " sizes, "
          << pass.samples << " samples\n";
    }
  }
  // --- the finalists' rates ----------------------------------------------------
  // The rule's rate is a guess (for Adam the best rate rises, then falls, as
  // the batch grows: Li et al. 2024). The sizes the measurements so far rank
  // fastest (with the timing pass's step times) get arms at half and twice
  // the rule's rate from the last point;
  // the analysis takes another rate where its arm wins beyond the noise
  // (reports/run_analysis/rate.cpp).
  if (s.lr_grid == 0 && s.rate_finalists > 0 && !snapshots.empty() && !stopped()) {
    WholeRun so_far = w;
    for (const auto& [b, t] : table) so_far.step_seconds.emplace_back(b, t);
    analyse_whole_run(so_far, s.candidate_sizes);
    std::vector<std::int64_t> finalists;
    auto add = [&](std::int64_t b) {
      if (int(finalists.size()) < s.rate_finalists && std::find(sizes.begin(), sizes.end(), b) != sizes.end() &&
          std::find(finalists.begin(), finalists.end(), b) == finalists.end()) {
        finalists.push_back(b);
      }
    };
    if (so_far.best_batch) add(*so_far.best_batch);
    auto ranked = so_far.predictions;
    std::sort(ranked.begin(), ranked.end(), [](const RunPrediction& a, const RunPrediction& b) { return a.seconds < b.seconds; });
    for (const auto& p : ranked) add(p.batch_size);
    const std::size_t last = snapshots.size() - 1;
    BranchPoint& bp = w.branch_points[last];
    if (!finalists.empty()) {
      out << "whole run: the finalists' rates: half and twice the rule's at";
      for (std::int64_t b : finalists) out << ' ' << b;
      out << " from point " << last + 1 << "\n";
    }
    const auto budget = static_cast<std::int64_t>(s.budget_share * double(s.run.train_samples));
    for (std::int64_t b : finalists) {
      // Both rates or neither, within the tune's budget.
      if (w.tune_samples - w.timing_samples +
              static_cast<std::int64_t>(std::size(kRateFactors)) * arm_samples(span, b, s.min_arm_steps) >
          budget) {
        out << "whole run: no room left in --tune-share for batch " << b << "'s rate arms\n";
        continue;
      }
      for (double factor : kRateFactors) {
        if (stopped()) {
          result.end = BranchedEnd::interrupted;
          result.message = "interrupted during the finalists' rate arms";
          return result;
        }
        BranchArm arm = run_arm(last, b, factor);
        bp.arms.push_back(arm);
        char line[200];
        std::snprintf(line, sizeof line, "whole run: point %zu/%zu (loss %.4f): batch %lld lr %.4g (x%g): %s, end loss %s\n",
                      last + 1, snapshots.size(), bp.loss, static_cast<long long>(b), arm.learning_rate, factor,
                      to_string(arm.status).c_str(), arm.end_loss ? std::to_string(*arm.end_loss).c_str() : "-");
        out << line << std::flush;
        if (s.on_progress) s.on_progress(w, "the arms");
      }
    }
  }

  for (const auto& [b, t] : table) w.step_seconds.emplace_back(b, t);
  // Stalls the mean step (the clock) pays and a median would hide.
  auto note_tail = [&](std::int64_t b, const std::vector<double>& times) {
    const auto t = step_times_of(times);
    if (t && t->steps >= 5 && t->median_s > 0 && t->mean_s >= kHeavyTailRatio * t->median_s) {
      w.heavy_step_tails.emplace_back(b, t->mean_s / t->median_s);
    }
  };
  note_tail(b0, trunk_step_times);
  for (const auto& [b, times] : step_times) {
    if (b != b0) note_tail(b, times);
  }
  w.other_cpu_cores = other_cpu_cores(cpu_at_start, read_cpu_times(),
                                      std::chrono::duration<double>(clock_type::now() - started).count());
  for (auto& bp : w.branch_points) {
    // The trunk's noise scale nearest the point.
    const TrunkNoisePoint* nearest = nullptr;
    for (const auto& n : w.trunk_noise) {
      if (!nearest || std::llabs(n.samples - bp.trunk_samples) < std::llabs(nearest->samples - bp.trunk_samples)) {
        nearest = &n;
      }
    }
    if (nearest) bp.simple_noise_scale = nearest->simple_noise_scale;
  }
  analyse_whole_run(w, s.candidate_sizes);
  return result;
}

}  // namespace batchtune::plan
