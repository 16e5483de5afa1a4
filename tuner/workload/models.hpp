// The models batchtune trains: built-in ones (mlp, cnn, resnet, gpt) and a
// user's TorchScript module, behind one small interface so the train step,
// probe and sweep do not care which.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace batchtune {

class Model {
 public:
  virtual ~Model() = default;
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;
  // A model that computes its own training loss (--loss model): the batch's
  // mean loss from forward(inputs, targets). Only TorchScript models can.
  virtual torch::Tensor forward_loss(const torch::Tensor& input, const torch::Tensor& target);
  virtual std::vector<torch::Tensor> parameters() = 0;
  // State that is not a parameter (batch norm's running statistics), for
  // the whole-run tune's snapshots. A model without any keeps the default.
  virtual std::vector<torch::Tensor> buffers() { return {}; }
  virtual void set_training(bool on) = 0;
  virtual void to(const torch::Device& device) = 0;
  std::int64_t parameter_count();
};

// Any module holder (the type TORCH_MODULE(Net) declares, or a
// std::shared_ptr<NetImpl>) whose forward takes one tensor: the built-in
// models, and a program's own through the public API.
template <class Holder>
class ModuleModel final : public Model {
 public:
  explicit ModuleModel(Holder module) : module_(std::move(module)) {}
  torch::Tensor forward(const torch::Tensor& input) override { return module_->forward(input); }
  std::vector<torch::Tensor> parameters() override { return module_->parameters(); }
  std::vector<torch::Tensor> buffers() override { return module_->buffers(); }
  void set_training(bool on) override { module_->train(on); }
  void to(const torch::Device& device) override { module_->to(device); }
  Holder& module() { return module_; }

 private:
  Holder module_;
};

struct MlpConfig {
  std::vector<std::int64_t> hidden{256, 128};
};

struct ResnetConfig {
  std::int64_t width = 16;            // channels of the first stage; doubled per stage
  std::int64_t blocks_per_stage = 1;  // three stages
};

struct GptConfig {
  std::int64_t vocab = 64;
  std::int64_t context = 32;
  std::int64_t width = 64;
  std::int64_t depth = 2;
  std::int64_t heads = 4;
};

// Flattens its input: any sample shape with in_features elements.
std::unique_ptr<Model> make_mlp(std::int64_t in_features, std::int64_t out_features, const MlpConfig& config);
// The LibTorch/PyTorch MNIST example without dropout, for 1x28x28 inputs.
std::unique_ptr<Model> make_cnn(std::int64_t num_classes);
// A small CIFAR-style residual network (batch norm, three stages, global pooling).
std::unique_ptr<Model> make_resnet(std::int64_t in_channels, std::int64_t num_classes, const ResnetConfig& config);
// A small causal transformer language model; input [B, T<=context] int64 tokens.
std::unique_ptr<Model> make_gpt(const GptConfig& config);
// Makes a fresh model with the same initial weights at every call.
using ModelFactory = std::function<std::unique_ptr<Model>()>;

// A TorchScript module saved from Python, loaded once; each call of the
// factory returns a deep copy, whose calls run with the graph executor's
// optimisations as `jit_optimize` says (TorchScriptOptimization below).
// Throws InputError when the file is missing or not TorchScript.
ModelFactory torchscript_factory(const std::string& path, bool jit_optimize = false);

// While it lives, TorchScript modules run on this thread without the graph
// executor's optimisations (`enabled` false): each runs its graph op by op,
// as eager PyTorch does, instead of profiling its first runs at every new
// input shape and compiling a specialised graph (and, for training, a
// differentiable graph that keeps its own intermediates). The probe's trials
// each clone a fresh module at a new batch size and paid that warm-up every
// time (a GRU cell looped over 200 steps: its probe 7.0-7.9 s against
// 3.5-4.8 s, bench/torchscript_probe.py), and the optimised graph kept more
// memory than the same ops run eagerly (the CNN fixture's edge 2196 against
// 2991), so a probe and a sweep run differently would disagree. The previous
// setting is restored at the end.
class TorchScriptOptimization {
 public:
  explicit TorchScriptOptimization(bool enabled);
  ~TorchScriptOptimization();
  TorchScriptOptimization(const TorchScriptOptimization&) = delete;
  TorchScriptOptimization& operator=(const TorchScriptOptimization&) = delete;

 private:
  bool previous_;
};

}  // namespace batchtune
