// A workload is everything needed to train at any batch size: a model that can
// be made afresh with the same initial weights, data with a fixed validation
// split, a loss, an optimizer and a device, all reproducible from a seed.
// The probe and the sweep build on Workload and train_step.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reports/model/workload_info.hpp"
#include "tuner/workload/dataset.hpp"
#include "tuner/workload/models.hpp"
#include "tuner/workload/precision.hpp"
#include "tuner/workload/synthetic_data.hpp"

namespace batchtune {

// model: the model computes its own loss from forward(inputs, targets).
enum class LossKind { cross_entropy, mse, model };
// custom: a program's own optimizer factory (the public API).
enum class OptimizerKind { sgd, adam, adamw, custom };

struct OptimizerSettings {
  OptimizerKind kind = OptimizerKind::sgd;
  double learning_rate = 0.01;
  double momentum = 0.9;
  double weight_decay = 0.0;
};

// Documented defaults: sgd lr 0.01 momentum 0.9; adam lr 1e-3; adamw lr 1e-3
// weight decay 0.01. Explicit values override.
OptimizerSettings resolve_optimizer(const std::string& name, std::optional<double> lr,
                                    std::optional<double> momentum, std::optional<double> weight_decay);

// What the user asked for, as given on the command line.
struct WorkloadSpec {
  std::string model = "mlp";        // mlp | cnn | resnet | gpt | path/to/model.pt
  MlpConfig mlp;
  ResnetConfig resnet;
  GptConfig gpt;
  std::vector<std::int64_t> input_shape;   // user models; overrides synthetic shapes
  std::int64_t num_classes = 0;            // 0: from the data (or 10 for synthetic)
  std::vector<std::int64_t> target_shape;  // regression targets (with --loss mse)
  std::string loss;                        // "" : cross_entropy, or mse with a target shape
  std::string data = "fashion-mnist";      // fashion-mnist | mnist-idx | cifar10 | tokens | npy | synthetic
  std::string data_dir;                    // "" : the dataset's default folder
  std::string data_file;                   // tokens; npy: the .npz, or the .npy of inputs
  std::string target_file;                 // npy: the .npy of targets beside a .npy of inputs
  std::string npy_inputs, npy_targets;     // npy: array names in the .npz ("" : x or inputs, y or targets)
  SyntheticSizes synthetic;
  std::string optimizer = "sgd";
  std::optional<double> learning_rate, momentum, weight_decay;
  std::string device = "auto";             // auto | cpu | cuda | cuda:N
  std::string precision = "fp32";          // fp32 | bf16 | fp16 (autocast)
  int threads = 0;                         // 0: LibTorch's default
  // TorchScript models through torch.jit's graph optimisations (--jit-optimize
  // on); off: op by op, as eager PyTorch (models.hpp, TorchScriptOptimization).
  bool jit_optimize = false;
  std::uint64_t seed = 0;
  // Variable-size data: the probe's sample shape (empty: the data's largest
  // extent on each varying dim), and how the sweep forms batches: padded
  // (random batches, each padded to its own largest) or bucketed (batches of
  // similar sizes).
  std::vector<std::int64_t> probe_shape;
  std::string batching = "padded";
};

// The spec as the command-line options that make it again (for --isolate's
// child process, which rebuilds the workload from them).
std::vector<std::string> workload_to_args(const WorkloadSpec& spec);

// "3x224x224" -> {3, 224, 224}; throws UsageError naming `option`.
std::vector<std::int64_t> parse_shape(const std::string& text, const std::string& option);

// auto | cpu | cuda | cuda:N, checked against this build and machine.
torch::Device resolve_device(const std::string& text);

// A program's own loss: the mean loss of a batch as a 0-dim tensor.
using LossFunction = std::function<torch::Tensor(const torch::Tensor& output, const torch::Tensor& target)>;
// A program's own optimizer over these parameters at this learning rate
// (the sweep scales the rate per batch size).
using OptimizerFactory =
    std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor> parameters, double learning_rate)>;

// A workload from a program's own parts, not from the command line's names:
// what the public API (include/batchtune/batchtune.hpp) builds.
struct WorkloadParts {
  std::string model_name = "custom";  // the report's workload.model
  ModelFactory model;                 // a fresh model at every call
  Dataset data;                       // both splits, task, shapes and classes set
  LossFunction loss;                  // null: cross entropy for labels, mse for regression
  std::string loss_name;              // the report's name for `loss` ("custom" when empty)
  OptimizerFactory optimizer;         // null: built from `optimizer_settings`
  std::string optimizer_name;         // the report's name for `optimizer` ("custom" when empty)
  OptimizerSettings optimizer_settings;  // the base learning rate (and kind, without a factory)
  std::string device = "auto";
  std::string precision = "fp32";
  int threads = 0;
  std::uint64_t seed = 0;
};

struct Evaluation {
  double loss = 0;
  std::optional<double> accuracy;  // classification and language models
  std::int64_t samples = 0;
};

class Workload {
 public:
  // Validates the spec, loads or generates the data, and checks that the model
  // takes the data's inputs and produces outputs the loss can use. Throws
  // UsageError, InputError or DeviceError with one clear line.
  static Workload create(const WorkloadSpec& spec);
  // The same checks on a program's own parts: the model takes the data's
  // inputs, the loss takes its outputs, some parameters train. Throws
  // UsageError or InputError. Such a workload cannot be rebuilt in a child
  // process (no --isolate).
  static Workload from_parts(WorkloadParts parts);
  // False for from_parts(): the spec does not describe the model or data.
  bool has_spec() const { return from_spec_; }

  // A fresh model on the device; the same initial weights at every call
  // (for built-in models, drawn from `seed`, by default the workload's).
  std::unique_ptr<Model> make_model() const { return make_model(spec_.seed); }
  std::unique_ptr<Model> make_model(std::uint64_t seed) const;
  std::unique_ptr<torch::optim::Optimizer> make_optimizer(Model& model, double learning_rate) const;
  torch::Tensor loss(const torch::Tensor& output, const torch::Tensor& target) const;
  // The batch's mean loss: the loss of the model's outputs, or with --loss
  // model the model's own forward(inputs, targets).
  torch::Tensor batch_loss(Model& model, const torch::Tensor& inputs, const torch::Tensor& targets) const;
  bool model_computes_loss() const { return loss_ == LossKind::model; }
  // The next batch from the training split, on the device.
  std::pair<torch::Tensor, torch::Tensor> next_batch(BatchSampler& sampler, std::int64_t batch_size) const;
  // What the memory probe trains on: with variable-length data the
  // `batch_size` longest samples (the worst case a batch can hold), else the
  // next batch.
  std::pair<torch::Tensor, torch::Tensor> probe_batch(BatchSampler& sampler, std::int64_t batch_size) const;
  // Variable-size data: the padded share of the input elements in `steps`
  // batches of `batch_size` drawn from `sampler` (a copy, replayed); none
  // for fixed-size data or no steps.
  std::optional<double> padding_share(BatchSampler sampler, std::int64_t batch_size, std::int64_t steps) const;
  // One input as the probe trains it: --probe-shape, or the data's largest
  // extent on every varying dim (the padded shape for fixed-size data).
  std::vector<std::int64_t> probe_shape() const;
  // Rows [begin, end) of the next batch of `batch_size`: one rank's share of
  // a global batch (every rank draws the same batch from the same sampler).
  std::pair<torch::Tensor, torch::Tensor> next_batch_rows(BatchSampler& sampler, std::int64_t batch_size,
                                                          std::int64_t begin, std::int64_t end) const;
  BatchSampler make_sampler() const { return make_sampler(spec_.seed); }
  BatchSampler make_sampler(std::uint64_t seed) const;
  // Mean loss (and accuracy) over the first `max_samples` validation samples
  // (all when 0), in eval mode without gradients; the model is left in train mode.
  Evaluation evaluate(Model& model, std::int64_t max_samples = 0, std::int64_t batch_size = 512) const;
  // The same on the first `max_samples` of the training split: with the
  // validation loss at the same weights, the generalisation gap.
  Evaluation evaluate_training(Model& model, std::int64_t max_samples, std::int64_t batch_size = 512) const;

  const Dataset& data() const { return data_; }
  LossKind loss_kind() const { return loss_; }
  // Whether evaluations measure an accuracy: a classification loss on the
  // model's outputs (not a regression loss, nor a model's own loss).
  bool has_accuracy() const { return loss_ != LossKind::model && data_.task != TaskKind::regression; }
  const torch::Device& device() const { return device_; }
  const OptimizerSettings& optimizer() const { return optimizer_; }
  Precision precision() const { return precision_; }
  const WorkloadSpec& spec() const { return spec_; }
  WorkloadInfo info() const;

 private:
  Workload(WorkloadSpec spec, Dataset data, ModelFactory factory, torch::Device device,
           LossKind loss, OptimizerSettings optimizer);
  // Forward on two validation samples and the loss on the outputs; counts
  // the trainable parameters.
  void check_model(const std::string& model_name);
  Evaluation evaluate_on(const Split& split, Model& model, std::int64_t max_samples, std::int64_t batch_size) const;
  WorkloadSpec spec_;
  Dataset data_;
  ModelFactory factory_;
  torch::Device device_;
  LossKind loss_;
  OptimizerSettings optimizer_;
  Precision precision_ = Precision::fp32;
  std::int64_t parameter_count_ = 0;
  bool from_spec_ = true;
  LossFunction custom_loss_;
  std::string loss_name_;
  OptimizerFactory custom_optimizer_;
  std::string optimizer_name_;
};

// One optimisation step: forward and loss (under autocast in bf16/fp16),
// backward, optimizer step (through `scaler` in fp16, which then must be
// given). Returns the loss as a 0-dim float tensor on the device (reading it
// synchronises).
torch::Tensor train_step(Model& model, torch::optim::Optimizer& optimizer, const Workload& workload,
                         const torch::Tensor& inputs, const torch::Tensor& targets, LossScaler* scaler = nullptr);

// The cause of an error the user's model (or LibTorch under it) raised, in
// one line: the TorchScript interpreter's inner "XError: ..." line rather
// than its generic first line; otherwise the first line of the message.
std::string describe_model_error(const std::exception& e);

// After a step that threw (an OOM inside backward), LibTorch's autograd
// engine leaves the failed graph's pending tasks in this thread's ready queue,
// and with them the saved activations: measured here, 58 MB stayed live after
// a resnet OOM and every later trial failed. A tiny backward on the same
// thread pops and drops those stale tasks.
void drain_autograd(const torch::Device& device);

}  // namespace batchtune
