// The sweep: at each candidate batch size (and seed), train the workload
// briefly from the same initial weights and data order, and measure what the
// batch size changes: step time (data apart from compute), throughput, peak
// memory, the training loss at every step, the validation loss every
// --eval-every samples, when the target is reached, divergence and OOM.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "probes/memory_meter.hpp"
#include "reports/analysis/recommend.hpp"
#include "reports/model/sweep_report.hpp"
#include "tuner/dist/data_parallel.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

struct SweepSettings {
  std::vector<std::int64_t> batch_sizes;  // already planned
  std::string batch_sizes_source;
  BudgetKind budget_kind = BudgetKind::samples;
  double budget_value = 0;
  LrScaling lr_scaling = LrScaling::none;
  std::int64_t base_batch = 64;
  double warmup_share = 0.05;             // linear warm-up over this share of an arm's steps
  int seeds = 1;
  std::int64_t eval_every_samples = 0;
  std::int64_t eval_samples = 0;          // validation samples per evaluation (0: all)
  // Validation runs at the arm's own batch size, at most this: it then needs
  // less memory than the training step at that size (no gradients, no
  // optimizer state), so it never exceeds the budget and the arm's peak is
  // its training peak.
  std::int64_t eval_batch_size = 512;
  std::optional<double> target_loss;
  std::string precision = "fp32";
  // The smallest batch the model trains at (the probe's min_batch): a
  // samples budget's last partial batch is never smaller.
  std::int64_t min_batch = 1;
  // `--shard I/N`: run only every N-th arm from the I-th (1-based) of the
  // seed-by-seed order; 1/1 runs them all.
  int shard_index = 1;
  int shard_count = 1;
  // Set: every arm trains data-parallel on the launch's ranks; batch sizes
  // are global batches, each split across the ranks.
  dist::DataParallel* data_parallel = nullptr;
  // Steps are timed and nothing is evaluated (`--throughput-only` under a
  // launch: step times, not convergence).
  bool timing_only = false;
};

// Whether the arm at `index` (0-based, seed by seed) belongs to shard I/N.
inline bool arm_in_shard(std::size_t index, int shard_index, int shard_count) {
  return static_cast<int>(index % static_cast<std::size_t>(shard_count)) == shard_index - 1;
}

// Powers of two from `smallest` up to the safe maximum, plus the safe maximum.
std::vector<std::int64_t> auto_batch_sizes(std::int64_t safe_max, std::int64_t smallest, std::int64_t multiple_of);

// Progress callbacks: called between steps; cheap.
struct SweepProgress {
  std::ostream* out = nullptr;
  bool live = false;  // a terminal: one line rewritten in place
  std::function<void(const SweepResult& so_far)> on_arm_done;  // optional: after each arm
};

// The settings a sweep (or a whole-run tune) ran with, as the report records
// them, with no arms yet.
SweepResult sweep_settings_record(const Workload& workload, const SweepSettings& settings);

// Runs every arm in order. Stops early (marking the report incomplete) when
// `stop` becomes true, or when an arm fails with an error that is neither
// memory nor divergence (status failed, the model's own message): the arms
// before it are kept. Divergence and OOM end an arm, not the sweep. `meter`
// (may be null) measures each arm's peak and enforces the probe's capacity.
// Data-parallel: a peer that fails (dies, stops answering) ends the sweep
// on this rank too; the report keeps the arms before it, marked incomplete,
// and `peer_failure` (when given) receives the message.
SweepResult run_sweep(const Workload& workload, const SweepSettings& settings, probes::MemoryMeter* meter,
                      const SweepProgress& progress, const std::atomic<bool>& stop,
                      std::string* peer_failure = nullptr);

}  // namespace batchtune
