// Memory meters: what a probe trial used at its peak, and how much there is.
// CpuBudgetMeter installs a tracking allocator as LibTorch's CPU allocator for
// its lifetime, counts live bytes and the peak, and refuses an allocation past
// the budget with c10::OutOfMemoryError; the original allocator is restored
// when the meter goes. CudaMeter reads the caching allocator's statistics.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace batchtune::probes {

class MemoryMeter {
 public:
  virtual ~MemoryMeter() = default;
  virtual std::string kind() const = 0;
  virtual std::uint64_t capacity_bytes() const = 0;
  virtual std::string capacity_source() const = 0;
  // Before a trial: forget the previous peak (and empty caches).
  virtual void begin_trial() = 0;
  // The peak since begin_trial, in bytes.
  virtual std::uint64_t peak_bytes() const = 0;
};

std::unique_ptr<MemoryMeter> make_cpu_budget_meter(std::uint64_t budget_bytes, std::string source);

// Live and peak bytes counted by the installed CPU tracker (0 when none).
struct CpuTrackerStats {
  bool installed = false;
  std::uint64_t live_bytes = 0;
  std::uint64_t peak_bytes = 0;
};
CpuTrackerStats cpu_tracker_stats();

// CUDA: capacity is the device's free memory at the start, or the limit,
// which also caps the caching allocator (memory fraction) so that a large
// card answers for a smaller one. Throws std::runtime_error without CUDA.
std::unique_ptr<MemoryMeter> make_cuda_meter(int device, std::optional<std::uint64_t> limit_bytes);

}  // namespace batchtune::probes
