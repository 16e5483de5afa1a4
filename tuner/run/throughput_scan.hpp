// The throughput scan that bounds `auto` batch sizes. On a CPU (and on a
// GPU past saturation) samples/s stops growing with the batch long before
// memory runs out; sweeping beyond that point costs time and shows nothing
// new. The scan times a few training steps at powers of two from the
// smallest auto size and stops one doubling past the knee: the first size
// whose samples/s is less than (1 + min_gain) times the best before it. It
// runs under the probe's meter, so each point also records its peak memory
// and an OOM ends the scan (memory is then the limit, and the probe finds it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "probes/memory_meter.hpp"
#include "reports/model/sweep_report.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

struct ScanSettings {
  std::int64_t first = 16;
  std::int64_t max_batch = 1 << 20;   // the training set, --max-batch, a samples budget
  std::int64_t multiple_of = 1;
  double min_gain = 0.05;             // a doubling must raise samples/s by this much
  // The knee is looked for from this many points on: one short measurement
  // on a busy machine can dip, and a sweep of fewer sizes shows little.
  std::size_t min_points = 3;
  int min_timed_steps = 3;
  double min_timed_seconds = 0.2;     // per point, after one warm-up step
  int max_timed_steps = 200;
  const std::atomic<bool>* stop = nullptr;
  // After each point, the points so far (for a checkpoint).
  std::function<void(const std::vector<ScanPoint>&)> on_point;
};

struct ScanResult {
  std::vector<ScanPoint> points;
  std::int64_t largest = 0;        // the largest size scanned that trained
  bool knee_found = false;         // stopped by the rule (else by memory, the cap or a signal)
  bool out_of_memory = false;      // the next size did not fit
  bool interrupted = false;
  std::string rule;                // what happened, in words, for the report
};

// Throws InputError (the model's own message) when a step fails otherwise.
ScanResult scan_throughput(const Workload& workload, probes::MemoryMeter& meter, const ScanSettings& settings,
                           std::ostream& progress);

}  // namespace batchtune
