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

}  // namespace batchtune::probes
