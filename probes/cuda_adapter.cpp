#include "probes/cuda_adapter.hpp"

#include <torch/cuda.h>

#if defined(BATCHTUNE_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace batchtune::probes {

bool cuda_built() {
#if defined(BATCHTUNE_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
  if (!torch::cuda::is_available()) return 0;
  return static_cast<int>(torch::cuda::device_count());
}

CudaDeviceProperties cuda_device_properties([[maybe_unused]] int index) {
  CudaDeviceProperties props;
#if defined(BATCHTUNE_WITH_CUDA)
  const auto* p = at::cuda::getDeviceProperties(index);
  props.name = p->name;
  props.total_memory_bytes = static_cast<std::uint64_t>(p->totalGlobalMem);
  props.major = p->major;
  props.minor = p->minor;
#endif
  return props;
}

#if defined(BATCHTUNE_WITH_CUDA)
namespace alloc = c10::cuda::CUDACachingAllocator;
// Index 0 of each statistic array is the aggregate over pool types in both
// LibTorch 1.13 (StatType::AGGREGATE) and 2.x, whose DeviceStats type moved.
constexpr std::size_t kAggregate = 0;
#endif

CudaMemoryInfo cuda_memory_info([[maybe_unused]] int device) {
  CudaMemoryInfo info;
#if defined(BATCHTUNE_WITH_CUDA)
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  std::size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    info.free_bytes = free_bytes;
    info.total_bytes = total_bytes;
  }
#endif
  return info;
}

void cuda_empty_cache() {
#if defined(BATCHTUNE_WITH_CUDA)
  alloc::emptyCache();
#endif
}

void cuda_reset_peak([[maybe_unused]] int device) {
#if defined(BATCHTUNE_WITH_CUDA)
  alloc::resetPeakStats(device);
#endif
}

std::uint64_t cuda_peak_allocated_bytes([[maybe_unused]] int device) {
#if defined(BATCHTUNE_WITH_CUDA)
  const auto stats = alloc::getDeviceStats(device);
  return static_cast<std::uint64_t>(stats.allocated_bytes[kAggregate].peak);
#else
  return 0;
#endif
}

std::uint64_t cuda_peak_reserved_bytes([[maybe_unused]] int device) {
#if defined(BATCHTUNE_WITH_CUDA)
  const auto stats = alloc::getDeviceStats(device);
  return static_cast<std::uint64_t>(stats.reserved_bytes[kAggregate].peak);
#else
  return 0;
#endif
}

void cuda_set_memory_fraction([[maybe_unused]] double fraction, [[maybe_unused]] int device) {
#if defined(BATCHTUNE_WITH_CUDA)
  alloc::setMemoryFraction(fraction, device);
#endif
}

void cuda_synchronize([[maybe_unused]] int device) {
#if defined(BATCHTUNE_WITH_CUDA)
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  c10::cuda::device_synchronize();
#endif
}

}  // namespace batchtune::probes
