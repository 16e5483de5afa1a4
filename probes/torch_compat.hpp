// LibTorch version differences that probes/ must straddle, in one place.
// 1.13 (Debian): c10::Allocator::allocate is const, no copy_data.
// 2.3 and later: allocate is non-const and copy_data is pure virtual.
#pragma once

#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define BATCHTUNE_ALLOCATOR_CONST
#define BATCHTUNE_ALLOCATOR_HAS_COPY_DATA 1
#else
#define BATCHTUNE_ALLOCATOR_CONST const
#define BATCHTUNE_ALLOCATOR_HAS_COPY_DATA 0
#endif
