// LibTorch version differences that probes/ must straddle, in one place.
// 1.13 (Debian): c10::Allocator::allocate is const, no copy_data.
// 2.3 and later: allocate is non-const and copy_data is pure virtual.
// Optimizer::state() is keyed by the parameter's TensorImpl address: as its
// text in 1.13, as the pointer itself in 2.x (optimizer_state_of).
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define BATCHTUNE_ALLOCATOR_CONST
#define BATCHTUNE_ALLOCATOR_HAS_COPY_DATA 1
#else
#define BATCHTUNE_ALLOCATOR_CONST const
#define BATCHTUNE_ALLOCATOR_HAS_COPY_DATA 0
#endif

namespace batchtune::probes {

// The entry of an optimizer's state map for `impl` (a template, so that only
// the key type this LibTorch has is compiled).
template <class States>
auto find_optimizer_state(States& states, c10::TensorImpl* impl) {
  using Key = typename States::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what c10::guts::to_string(impl) writes
    key << impl;
    return states.find(key.str());
  } else {
    return states.find(static_cast<Key>(impl));
  }
}

// The optimizer's state for parameter `p`, or null where it has none yet.
inline torch::optim::OptimizerParamState* optimizer_state_of(torch::optim::Optimizer& optimizer,
                                                             const torch::Tensor& p) {
  auto& states = optimizer.state();
  const auto found = find_optimizer_state(states, p.unsafeGetTensorImpl());
  return found == states.end() ? nullptr : found->second.get();
}

}  // namespace batchtune::probes
