// Whether a report's step times say how fast this machine is, or how busy it
// was. Every figure is made of the step clock (statistics.hpp: the mean
// step), which predicts a run's wall time under the same conditions; the
// conditions themselves can make it a poor measure of the machine: a heavy
// tail (the mean step well over the median: stalls) or other processes'
// CPU use. The recommendation's reasons, the renderings, `compare` and
// `check` read this one verdict and name its cause and fix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reports/model/machine_info.hpp"
#include "reports/model/sweep_report.hpp"
#include "reports/model/whole_run.hpp"

namespace batchtune {

struct HeavyTail {
  std::int64_t batch_size = 0;
  double mean_over_median = 0;  // the step clock over the median step, its worst arm
};

struct TimingQuality {
  // Sizes whose mean step is kHeavyTailRatio or more times their median.
  std::vector<HeavyTail> heavy_tails;
  // Other processes' CPU use over the arms, in cores (none: not read).
  std::optional<double> other_cpu_cores;
  int threads = 0;       // 0: not recorded
  int usable_cores = 0;
  bool loaded() const;   // other processes used kLoadedMachineCores or more
  bool unreliable() const { return loaded() || !heavy_tails.empty(); }
};

TimingQuality timing_quality(const SweepResult& sweep);
// A whole-run tune's: its heavy step tails (the trunk's at the base batch,
// the arms' elsewhere) and the load it saw; threads and cores from the
// machine it ran on, where recorded.
TimingQuality timing_quality(const WholeRun& run, const std::optional<MachineInfo>& machine);

// One sentence for a person: what was seen, its likely cause and the fix;
// empty when the timing is sound.
std::string describe(const TimingQuality& q);

// A few words for a table cell or a verdict: "heavy tail at 64, 256",
// "loaded (1.3 cores)"; empty when sound.
std::string short_description(const TimingQuality& q);

}  // namespace batchtune
