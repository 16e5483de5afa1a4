// The one place that talks to CUDA through LibTorch. Compiled in every build;
// without a CUDA LibTorch (BATCHTUNE_WITH_CUDA unset) it reports no devices.
// Version differences between LibTorch 1.13 and 2.x (allocator statistics,
// memory fraction) are guarded here, not scattered.
#pragma once

#include <cstdint>
#include <string>

namespace batchtune::probes {

struct CudaDeviceProperties {
  std::string name;
  std::uint64_t total_memory_bytes = 0;
  int major = 0;
  int minor = 0;
};

// True when this binary was compiled against a CUDA-enabled LibTorch.
bool cuda_built();

// Devices that answer now; 0 without CUDA support or without a driver.
int cuda_device_count();

// Precondition: 0 <= index < cuda_device_count().
CudaDeviceProperties cuda_device_properties(int index);

// The caching allocator, for the CUDA memory meter. Without CUDA support these
// do nothing and report zeros.
struct CudaMemoryInfo {
  std::uint64_t free_bytes = 0;
  std::uint64_t total_bytes = 0;
};
CudaMemoryInfo cuda_memory_info(int device);
void cuda_empty_cache();
void cuda_reset_peak(int device);
std::uint64_t cuda_peak_allocated_bytes(int device);
std::uint64_t cuda_peak_reserved_bytes(int device);
void cuda_set_memory_fraction(double fraction, int device);
void cuda_synchronize(int device);

}  // namespace batchtune::probes
