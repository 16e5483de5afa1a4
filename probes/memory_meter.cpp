#include "probes/memory_meter.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "probes/cuda_adapter.hpp"
#include "probes/torch_compat.hpp"
#include "reports/model/machine_info.hpp"

namespace batchtune::probes {
namespace {

// One tracker for the process: LibTorch has one CPU allocator slot, and
// tensors allocated while it was installed may be freed after it is removed,
// so it must outlive every meter (it is never destroyed).
class TrackingAllocator final : public c10::Allocator {
 public:
  void install(c10::Allocator* base, std::uint64_t budget) {
    std::lock_guard<std::mutex> lock(mutex_);
    base_ = base;
    budget_ = budget;
    installed_ = true;
    peak_ = live_;
  }
  void uninstall() {
    std::lock_guard<std::mutex> lock(mutex_);
    installed_ = false;
  }
  c10::Allocator* base() const { return base_; }

  c10::DataPtr allocate(size_t n) BATCHTUNE_ALLOCATOR_CONST override {
    auto* self = const_cast<TrackingAllocator*>(this);
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      if (self->live_ + n > self->budget_) {
        const std::uint64_t attempted = self->live_ + n;
        self->peak_ = std::max(self->peak_, attempted);
        TORCH_CHECK_WITH(OutOfMemoryError, false, "batchtune CPU memory budget exceeded: tried to allocate ",
                         n, " bytes with ", self->live_, " live; the budget is ", self->budget_,
                         " bytes (can't allocate memory)");
      }
    }
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    c10::DeleterFnPtr inner_deleter = inner.get_deleter();
    void* inner_context = inner.release_context();
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->live_ += n;
    self->peak_ = std::max(self->peak_, self->live_);
    if (data) self->blocks_[data] = Block{n, inner_context, inner_deleter};
    return {data, data, &TrackingAllocator::free_block, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &TrackingAllocator::free_block; }

#if BATCHTUNE_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = live_;
  }
  CpuTrackerStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {installed_, live_, peak_};
  }

  static TrackingAllocator& instance() {
    static auto* tracker = new TrackingAllocator();  // never destroyed, see above
    return *tracker;
  }

 private:
  struct Block {
    std::size_t bytes;
    void* context;
    c10::DeleterFnPtr deleter;
  };
  static void free_block(void* data) {
    TrackingAllocator& self = instance();
    Block block{};
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.blocks_.find(data);
      if (it == self.blocks_.end()) return;
      block = it->second;
      self.blocks_.erase(it);
      self.live_ -= block.bytes;
    }
    if (block.deleter) block.deleter(block.context);
  }

  std::mutex mutex_;
  c10::Allocator* base_ = nullptr;
  std::uint64_t budget_ = 0;
  std::uint64_t live_ = 0;
  std::uint64_t peak_ = 0;
  bool installed_ = false;
  std::unordered_map<void*, Block> blocks_;
};

// SetCPUAllocator only replaces an allocator of lower or equal priority.
constexpr std::uint8_t kPriority = 255;

class CpuBudgetMeter final : public MemoryMeter {
 public:
  CpuBudgetMeter(std::uint64_t budget, std::string source) : budget_(budget), source_(std::move(source)) {
    TrackingAllocator& tracker = TrackingAllocator::instance();
    original_ = c10::GetCPUAllocator();
    if (original_ == &tracker) throw std::logic_error("a CPU budget meter is already installed");
    tracker.install(original_, budget);
    c10::SetCPUAllocator(&tracker, kPriority);
  }
  ~CpuBudgetMeter() override {
    TrackingAllocator::instance().uninstall();
    c10::SetCPUAllocator(original_, kPriority);
  }
  std::string kind() const override { return "cpu-budget"; }
  std::uint64_t capacity_bytes() const override { return budget_; }
  std::string capacity_source() const override { return source_; }
  void begin_trial() override { TrackingAllocator::instance().reset_peak(); }
  std::uint64_t peak_bytes() const override { return TrackingAllocator::instance().stats().peak_bytes; }

 private:
  std::uint64_t budget_;
  std::string source_;
  c10::Allocator* original_ = nullptr;
};

class CudaMeter final : public MemoryMeter {
 public:
  CudaMeter(int device, std::optional<std::uint64_t> limit) : device_(device) {
    cuda_empty_cache();
    const auto [free_bytes, total_bytes] = cuda_memory_info(device);
    if (limit) {
      capacity_ = std::min<std::uint64_t>(*limit, total_bytes);
      source_ = "--memory-limit " + format_bytes(*limit) + ", enforced as the caching allocator's memory fraction " +
                std::to_string(double(capacity_) / double(total_bytes));
      cuda_set_memory_fraction(double(capacity_) / double(total_bytes), device);
    } else {
      capacity_ = free_bytes;
      source_ = "free memory at the start on " + cuda_device_properties(device).name + " (" +
                format_bytes(total_bytes) + " total)";
    }
  }
  ~CudaMeter() override {
    cuda_set_memory_fraction(1.0, device_);
    cuda_empty_cache();
  }
  std::string kind() const override { return "cuda-caching-allocator"; }
  std::uint64_t capacity_bytes() const override { return capacity_; }
  std::string capacity_source() const override { return source_; }
  void begin_trial() override {
    cuda_empty_cache();
    cuda_reset_peak(device_);
  }
  std::uint64_t peak_bytes() const override { return cuda_peak_allocated_bytes(device_); }

 private:
  int device_;
  std::uint64_t capacity_ = 0;
  std::string source_;
};

}  // namespace

std::unique_ptr<MemoryMeter> make_cpu_budget_meter(std::uint64_t budget_bytes, std::string source) {
  return std::make_unique<CpuBudgetMeter>(budget_bytes, std::move(source));
}

CpuTrackerStats cpu_tracker_stats() { return TrackingAllocator::instance().stats(); }

std::unique_ptr<MemoryMeter> make_cuda_meter(int device, std::optional<std::uint64_t> limit_bytes) {
  if (!cuda_built()) throw std::runtime_error("this build has no CUDA support");
  return std::make_unique<CudaMeter>(device, limit_bytes);
}

}  // namespace batchtune::probes
