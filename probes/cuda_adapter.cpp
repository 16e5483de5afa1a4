#include "probes/cuda_adapter.hpp"

#include <torch/cuda.h>

#if defined(BATCHTUNE_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
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

}  // namespace batchtune::probes
