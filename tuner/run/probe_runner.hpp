// Runs the memory probe on a workload: real training trials (forward,
// backward, optimizer step, at least twice) under a memory meter, in this
// process or each in a fresh child process (--isolate).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "probes/batch_search.hpp"
#include "probes/memory_meter.hpp"
#include "reports/util/error.hpp"
#include "reports/model/probe_report.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

struct ProbeSettings {
  std::optional<std::uint64_t> memory_limit_bytes;
  probes::SearchOptions search;  // capacity filled in from the meter
  bool isolate = false;
  int steps = 2;
  std::string executable;        // for --isolate: the batchtune binary (default /proc/self/exe)
  // Checked before each trial: when it becomes true the probe stops and
  // throws ProbeInterrupted with what it measured.
  const std::atomic<bool>* stop = nullptr;
  // After each trial, the probe so far (for a checkpoint).
  std::function<void(const ProbeResult&)> on_trial;
};

// The probe stopped by a signal; `partial` holds the trials it ran.
struct ProbeInterrupted : Error {
  explicit ProbeInterrupted(ProbeResult p)
      : Error(ExitCode::interrupted, "interrupted during the probe after " + std::to_string(p.trials.size()) +
                                         " trials"),
        partial(std::move(p)) {}
  ProbeResult partial;
};

// One trial at `batch_size` under `meter`: a fresh model and optimizer and
// `steps` training steps. OOM is data (outcome out_of_memory); any other
// failure is outcome error with its message.
ProbeTrial run_training_trial(const Workload& workload, probes::MemoryMeter& meter, std::int64_t batch_size,
                              int steps);

// The meter for the workload's device, with the capacity the probe uses.
std::unique_ptr<probes::MemoryMeter> make_meter(const Workload& workload, std::optional<std::uint64_t> limit_bytes);

// The whole probe. Progress lines go to `progress`. Throws DoesNotFitError when
// the smallest batch does not fit, InputError with the model's own message
// when a trial fails otherwise, ProbeInterrupted on a signal.
ProbeResult run_probe(const Workload& workload, const ProbeSettings& settings, std::ostream& progress);

}  // namespace batchtune
