// The whole-run tune (Merrill et al. 2025, branched training): train one
// trunk at the base batch along the planned run, keep its whole state at a
// few branch points, and from each point run short arms at every candidate
// size at the scaling rule's learning rate (the finalists also at half and
// twice it, or every size on --lr-grid's grid), each the same number of
// samples (at least a few steps). How many base-batch samples
// the trunk needed to reach each arm's end loss gives that size's samples
// ratio, and the ratios the local critical batch (reports/run_analysis/).
// The simple noise scale is tracked along the trunk. Torch-free: it drives
// any plan::Trainer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reports/model/whole_run.hpp"
#include "tuner/plan/trainer.hpp"

namespace batchtune::plan {

struct BranchedSettings {
  PlannedRun run;
  std::int64_t base_batch = 64;
  double base_learning_rate = 0.01;
  LrScaling lr_scaling = LrScaling::linear;
  std::vector<std::int64_t> branch_sizes;     // ascending; arms at each (the base batch is the trunk itself)
  std::vector<std::int64_t> candidate_sizes;  // ascending; the sizes the run is predicted at
  // A size above branch_sizes that the caller left out for the budget's sake
  // (auto sizes stop at the largest arm the budget runs): the report names
  // the --tune-share that would run an arm there.
  std::optional<std::int64_t> next_size_left_out;
  // Step times for sizes no arm runs (the throughput scan's), and in words.
  std::vector<std::pair<std::int64_t, double>> extra_step_seconds;
  std::string extra_step_seconds_source;
  double trunk_share = 0.2;     // of the planned run's samples
  int branch_points = 2;
  double budget_share = 0.4;    // trunk + arms, in samples, against the planned run
  int lr_grid = 0;              // K: also 2^-K .. 2^K times the rule's rate
  // With no grid: the sizes ranked fastest after the other arms (at most
  // this many) also get arms at half and twice the rule's rate from the last
  // branch point; the budget reserves them at the largest sizes. 0: none.
  int rate_finalists = 2;
  std::int64_t min_arm_steps = 8;
  int trunk_evaluations = 24;
  int noise_measurements = 24;    // gradient-norm pairs along the trunk, smoothed over the last 6
  std::int64_t noise_large_batch = 0;  // 0: 4x the base batch
  double warmup_share = 0.05;   // the trunk's warm-up, a share of the run's steps at the base batch
  // The interleaved timing pass after the arms: 3 to timing_rounds rounds
  // over every size, within timing_share of the run's samples, or
  // timing_share_loaded where other processes used half a core or more
  // during the tune; none where three rounds do not fit (the arms' and the
  // trunk's medians stand).
  int timing_rounds = 5;
  double timing_share = 0.03;
  double timing_share_loaded = 0.1;
  std::uint64_t seed = 0;
  std::int64_t eval_samples = 0;       // recorded in the report (the trainer holds the subset)
  std::ostream* progress = nullptr;
  const std::atomic<bool>* stop = nullptr;
  // The measurements so far, after each arm (for a checkpoint).
  std::function<void(const WholeRun& so_far, const std::string& phase)> on_progress;
};

enum class BranchedEnd { complete, interrupted, trunk_failed };

struct BranchedResult {
  BranchedEnd end = BranchedEnd::complete;
  std::string message;   // why, when not complete
  WholeRun whole_run;    // analysed when complete
};

// The arms' sample span per branch point for the budget: the largest span
// (at most a fifth of the trunk) whose arms, with each arm at least
// min_arm_steps steps, fit in what the budget leaves after the trunk; sizes
// are dropped from the top when even the shortest arms do not fit. Returns
// the span and the sizes kept.
std::pair<std::int64_t, std::vector<std::int64_t>> plan_arm_span(const BranchedSettings& s, std::int64_t trunk_samples);

// The trunk's steps at the base batch: trunk_share of the planned run, at
// least 8.
std::int64_t trunk_steps_of(const BranchedSettings& s);

// The largest of s.branch_sizes an arm will run at under the tune's budget
// (plan_arm_span's choice), or the base batch when none above it fits: the
// probe and the timing need go no further, because sizes above the largest
// an arm measured are not predicted.
std::int64_t largest_arm_size(const BranchedSettings& s);

BranchedResult run_branched(Trainer& trainer, const BranchedSettings& settings);

}  // namespace batchtune::plan
