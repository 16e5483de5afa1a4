#include "tuner/run/throughput_scan.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ostream>

#include "probes/cuda_adapter.hpp"
#include "probes/oom.hpp"
#include "reports/util/error.hpp"
#include "reports/model/machine_info.hpp"
#include "reports/util/statistics.hpp"

namespace batchtune {
namespace {
using clock_type = std::chrono::steady_clock;
}  // namespace

ScanResult scan_throughput(const Workload& w, probes::MemoryMeter& meter, const ScanSettings& s,
                           std::ostream& progress) {
  ScanResult r;
  const std::int64_t m = std::max<std::int64_t>(1, s.multiple_of);
  auto round = [&](std::int64_t b) { return std::max(m, (b / m) * m); };
  meter.begin_trial();
  auto model = w.make_model();
  // Timing only: the learning rate does not change the cost of a step, and
  // zero keeps the weights (and the loss) finite at every size.
  auto optimizer = w.make_optimizer(*model, 0.0);
  BatchSampler sampler = w.make_sampler();
  LossScaler scaler;
  double best = 0;
  std::int64_t best_batch = 0;
  for (std::int64_t b = round(std::min(s.first, s.max_batch));; ) {
    if (s.stop && s.stop->load()) {
      r.interrupted = true;
      r.rule = "interrupted by a signal";
      break;
    }
    ScanPoint p;
    p.batch_size = b;
    std::vector<double> step_s;
    try {
      meter.begin_trial();
      double timed = 0;
      for (int step = 0;; ++step) {
        const auto t0 = clock_type::now();
        auto [x, y] = w.next_batch(sampler, b);
        train_step(*model, *optimizer, w, x, y, &scaler).item<float>();  // waits for the device
        const double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
        if (step == 0) continue;  // allocator growth, kernel selection
        step_s.push_back(dt);
        timed += dt;
        const int n = static_cast<int>(step_s.size());
        if (n >= s.max_timed_steps || (n >= s.min_timed_steps && timed >= s.min_timed_seconds)) break;
        if (s.stop && s.stop->load()) break;
      }
    } catch (const std::exception& e) {
      drain_autograd(w.device());
      if (!probes::is_out_of_memory(e)) {
        throw InputError("--model " + w.spec().model + ": training at batch " + std::to_string(b) +
                         " failed: " + describe_model_error(e));
      }
      r.out_of_memory = true;
      r.rule = "batch " + std::to_string(b) + " ran out of memory in " + format_bytes(meter.capacity_bytes()) +
               " before samples/s stopped growing; sizes go up to the probe's safe maximum";
      break;
    }
    p.peak_bytes = meter.peak_bytes();
    p.timed_steps = static_cast<int>(step_s.size());
    const auto t = step_times_of(step_s);
    p.mean_step_seconds = t ? t->mean_s : 0.0;  // the step clock (statistics.hpp)
    p.median_step_seconds = t ? t->median_s : 0.0;
    p.samples_per_s = double(b) / std::max(p.mean_step_seconds, 1e-12);
    r.points.push_back(p);
    r.largest = b;
    if (s.on_point) s.on_point(r.points);
    char line[200];
    std::snprintf(line, sizeof line, "scan: batch %lld: %.0f samples/s (mean of %d steps), peak %s\n",
                  static_cast<long long>(b), p.samples_per_s, p.timed_steps, format_bytes(p.peak_bytes).c_str());
    progress << line << std::flush;
    if (best_batch > 0 && r.points.size() >= s.min_points && p.samples_per_s < (1.0 + s.min_gain) * best) {
      r.knee_found = true;
      char rule[300];
      std::snprintf(rule, sizeof rule,
                    "throughput knee: batch %lld gave %.0f samples/s, less than %.0f%% above the best before it "
                    "(%.0f at %lld); auto sizes stop here",
                    static_cast<long long>(b), p.samples_per_s, 100 * s.min_gain, best,
                    static_cast<long long>(best_batch));
      r.rule = rule;
      break;
    }
    if (p.samples_per_s > best) {
      best = p.samples_per_s;
      best_batch = b;
    }
    if (b >= round(s.max_batch)) {
      r.rule = "samples/s still grew at batch " + std::to_string(b) +
               ", the largest size allowed (training set, --max-batch or budget)";
      break;
    }
    b = std::min(round(b * 2), round(s.max_batch));
    if (b <= r.largest) break;
  }
  return r;
}

}  // namespace batchtune
