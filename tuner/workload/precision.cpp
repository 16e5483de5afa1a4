#include "tuner/workload/precision.hpp"
#include "tuner/workload/autocast_state.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "reports/util/error.hpp"

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define BATCHTUNE_AUTOCAST_BY_DEVICE 1
#else
#define BATCHTUNE_AUTOCAST_BY_DEVICE 0
#endif

namespace batchtune {

bool autocast_enabled(bool cuda) {
#if BATCHTUNE_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

namespace {

void set_autocast(bool cuda, bool enabled, c10::ScalarType dtype) {
#if BATCHTUNE_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
#else
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

c10::ScalarType autocast_dtype(bool cuda) {
#if BATCHTUNE_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

}  // namespace

Precision parse_precision(const std::string& text, const torch::Device& device) {
  if (text == "fp32") return Precision::fp32;
  if (text == "bf16") return Precision::bf16;
  if (text == "fp16") {
    if (!device.is_cuda()) {
      throw UsageError("--precision fp16 needs a CUDA device (LibTorch autocasts to fp16 on CUDA); "
                       "use bf16 on CPU");
    }
    return Precision::fp16;
  }
  throw UsageError("--precision " + text + ": choose fp32, bf16 or fp16");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "?";
}

AutocastScope::AutocastScope(const torch::Device& device, Precision precision) {
  if (precision == Precision::fp32) return;
  active_ = true;
  cuda_ = device.is_cuda();
  previous_enabled_ = autocast_enabled(cuda_);
  previous_dtype_ = autocast_dtype(cuda_);
  set_autocast(cuda_, true, precision == Precision::bf16 ? c10::ScalarType::BFloat16 : c10::ScalarType::Half);
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  set_autocast(cuda_, previous_enabled_, previous_dtype_);
  // As Python's autocast does on leaving the outermost region: the cast
  // weights cached for this forward pass must not outlive it.
  if (!previous_enabled_) at::autocast::clear_cache();
}

bool LossScaler::backward_and_step(const torch::Tensor& loss, torch::optim::Optimizer& optimizer) {
  (loss.to(torch::kFloat32) * scale_).backward();
  std::vector<torch::Tensor> grads;
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
  }
  bool finite = true;
  for (const auto& g : grads) {
    if (!torch::isfinite(g).all().item<bool>()) {
      finite = false;
      break;
    }
  }
  if (!finite) {
    scale_ *= 0.5;
    clean_steps_ = 0;
    return false;
  }
  for (auto& g : grads) g.mul_(1.0 / scale_);
  optimizer.step();
  if (++clean_steps_ % growth_interval == 0) scale_ *= 2.0;
  return true;
}

}  // namespace batchtune
