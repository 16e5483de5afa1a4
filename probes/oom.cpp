#include "probes/oom.hpp"

#include <c10/util/Exception.h>

#include <new>

namespace batchtune::probes {

bool is_out_of_memory_message(const std::string& message) {
  // The CUDA caching allocator ("CUDA out of memory. Tried to allocate ..."),
  // the CPU allocator ("DefaultCPUAllocator: can't allocate memory: you tried
  // to allocate ..."), our budget allocator, and cuBLAS/cuDNN workspace failures.
  for (const char* marker : {"CUDA out of memory", "out of memory", "can't allocate memory",
                             "CPU memory budget exceeded", "CUBLAS_STATUS_ALLOC_FAILED",
                             "CUDNN_STATUS_ALLOC_FAILED"}) {
    if (message.find(marker) != std::string::npos) return true;
  }
  return false;
}

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return true;
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
  return is_out_of_memory_message(e.what());
}

}  // namespace batchtune::probes
