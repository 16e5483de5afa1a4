#include "reports/analysis/timing_quality.hpp"

#include <algorithm>
#include <map>

#include "reports/model/machine_info.hpp"
#include "reports/util/statistics.hpp"
#include "reports/util/units.hpp"

namespace batchtune {

bool TimingQuality::loaded() const { return other_cpu_cores && *other_cpu_cores >= kLoadedMachineCores; }

TimingQuality timing_quality(const SweepResult& sweep) {
  TimingQuality q;
  std::map<std::int64_t, double> worst;
  for (const auto& a : sweep.arms) {
    const auto t = step_times_of(step_total_seconds(a));
    // A handful of steps has no tail to speak of (one slow step of three is
    // not a distribution).
    if (!t || t->steps < 5 || !(t->median_s > 0)) continue;
    const double r = t->mean_s / t->median_s;
    worst[a.batch_size] = std::max(worst[a.batch_size], r);
  }
  for (const auto& [b, r] : worst) {
    if (r >= kHeavyTailRatio) q.heavy_tails.push_back(HeavyTail{b, r});
  }
  if (sweep.timing_conditions) {
    q.other_cpu_cores = sweep.timing_conditions->other_cpu_cores;
    q.threads = sweep.timing_conditions->threads;
    q.usable_cores = sweep.timing_conditions->usable_cores;
  }
  return q;
}

TimingQuality timing_quality(const WholeRun& run, const std::optional<MachineInfo>& machine) {
  TimingQuality q;
  for (const auto& [b, r] : run.heavy_step_tails) q.heavy_tails.push_back(HeavyTail{b, r});
  q.other_cpu_cores = run.other_cpu_cores;
  if (machine) {
    q.threads = machine->torch_threads;
    q.usable_cores = machine->usable_cores;
  }
  return q;
}

namespace {

std::string tail_sizes(const TimingQuality& q) {
  std::string s;
  for (std::size_t i = 0; i < q.heavy_tails.size(); ++i) {
    s += (i == 0 ? "" : i + 1 == q.heavy_tails.size() ? " and " : ", ") + std::to_string(q.heavy_tails[i].batch_size);
  }
  return s;
}

double worst_tail(const TimingQuality& q) {
  double w = 0;
  for (const auto& t : q.heavy_tails) w = std::max(w, t.mean_over_median);
  return w;
}

}  // namespace

std::string describe(const TimingQuality& q) {
  if (!q.unreliable()) return {};
  std::string seen;
  if (!q.heavy_tails.empty()) {
    seen = "the step times have a heavy tail at batch " + tail_sizes(q) + " (the mean step up to " +
           format_number(worst_tail(q), "%.1f") + "x the median: stalls)";
  }
  if (q.loaded()) {
    seen += (seen.empty() ? "" : ", and ") + std::string("other processes used ") +
            format_number(*q.other_cpu_cores, "%.1f") + " of " +
            (q.usable_cores > 0 ? std::to_string(q.usable_cores) : std::string("the")) + " cores while it ran";
  }
  std::string cause_fix;
  if (q.loaded()) {
    cause_fix = "the times are this busy machine's, not its own speed: rerun on a quiet machine to time the hardware";
  } else if (q.threads > 1 && q.usable_cores > 0 && q.threads >= q.usable_cores) {
    cause_fix = "a " + std::to_string(q.threads) + "-thread pool on " + std::to_string(q.usable_cores) +
                " cores stalls whenever anything else needs a core: --threads " +
                std::to_string(std::max(1, q.usable_cores - 1)) + " usually removes the tail";
  } else {
    cause_fix = "the steps stall now and then (data loading, memory, the system): rerun on a quiet machine and see "
                "whether the tail stays";
  }
  return "Timing unreliable: " + seen + "; predictions use the mean step, what a run under the same conditions "
         "takes, but " + cause_fix + ".";
}

std::string short_description(const TimingQuality& q) {
  std::string s;
  if (!q.heavy_tails.empty()) s = "heavy tail at " + tail_sizes(q);
  if (q.loaded()) {
    s += (s.empty() ? "" : ", ") + std::string("loaded (") + format_number(*q.other_cpu_cores, "%.1f") + " cores busy)";
  }
  return s;
}

}  // namespace batchtune
