// Mixed precision for training steps: autocast around the forward pass and
// the loss (bf16 on CPU and CUDA, fp16 on CUDA), and dynamic loss scaling for
// fp16 (LibTorch's C++ API has no GradScaler). The autocast API differs
// between LibTorch 1.13 and 2.4+; that difference lives in precision.cpp.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace batchtune {

enum class Precision { fp32, bf16, fp16 };

// "fp32" | "bf16" | "fp16", checked against the device; throws UsageError.
Precision parse_precision(const std::string& text, const torch::Device& device);
const char* precision_name(Precision p);

// Autocast on `device` to the precision's dtype for the guard's lifetime.
class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Float;
};

// Dynamic loss scaling as in torch.cuda.amp.GradScaler: scale the loss,
// skip a step whose gradients overflow and halve the scale, double it after
// `growth_interval` clean steps.
class LossScaler {
 public:
  double scale() const { return scale_; }
  // Backward of loss * scale, unscale, step unless gradients overflowed.
  // Returns false when the step was skipped.
  bool backward_and_step(const torch::Tensor& loss, torch::optim::Optimizer& optimizer);

 private:
  double scale_ = 65536.0;
  int clean_steps_ = 0;
  static constexpr int growth_interval = 2000;
};

}  // namespace batchtune
