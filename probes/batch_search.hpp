// The search for the largest batch that fits. A trial is supplied by the
// caller (tuner/ trains the workload; tests may fake one); the search decides
// which batch sizes to try.
//   model:     peak memory at small sizes growing 16x until the per-sample
//              part shows, the edge predicted from bytes per sample, a
//              verifying trial there and its neighbour; bisection to
//              --multiple-of after three misses, doubling when memory does
//              not grow with B.
//   binsearch: Lightning's: doubling from 2 until a failure, then bisection.
//   power:     Lightning's: doubling from 2; the last size that fit.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "reports/model/probe_report.hpp"

namespace batchtune::probes {

struct SearchOptions {
  ProbeStrategy strategy = ProbeStrategy::model;
  std::int64_t max_batch = 1 << 20;
  std::int64_t multiple_of = 1;
  double margin = 0.10;
  std::uint64_t capacity_bytes = 0;
  // A model may fail (not OOM) at the smallest sizes: BatchNorm in training
  // refuses one value per channel. The search doubles its first size up to
  // this while trials fail that way, and starts from the first that trains.
  std::int64_t min_batch_search_limit = 64;
};

using TrialRunner = std::function<ProbeTrial(std::int64_t batch_size)>;

// Thrown when a trial fails for a reason that is not memory: the probe stops.
struct TrialError : std::runtime_error {
  TrialError(std::int64_t batch, const std::string& message)
      : std::runtime_error("trial at batch " + std::to_string(batch) + " failed: " + message) {}
};

// Thrown when the smallest batch does not fit.
struct NothingFits : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Fills in min_batch, strategy, trials, largest/first failing/safe batch, memory model and
// predicted edge; the caller adds meter, device and capacity source.
ProbeResult search_largest_batch(const TrialRunner& run_trial, const SearchOptions& options);

}  // namespace batchtune::probes
