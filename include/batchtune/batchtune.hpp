// batchtune's C++ API: tune the batch size of your own LibTorch model from
// inside your training program, as PyTorch Lightning's tuner is called from
// Python. You give a model factory (any torch::nn::Module with
// forward(Tensor)), the data (tensors or a torch::data dataset), the loss and
// an optimizer factory; batchtune probes the memory, sweeps short training
// runs, measures the gradient noise scale and recommends a batch size, and
// hands back the same typed report (and JSON) that `batchtune sweep` writes.
//
//   #include <batchtune/batchtune.hpp>
//   batchtune::Tunable t;
//   t.name = "my-net";
//   t.model = batchtune::module_factory([] { return MyNet(); });
//   t.data = batchtune::tensor_data(inputs, labels);
//   t.optimizer = batchtune::sgd(0.05, /*momentum=*/0.9);
//   batchtune::TuneResult r = batchtune::tune(t);
//   std::int64_t b = r.report.recommendation->batch_size;
//
// In CMake: find_package(batchtune) and
// target_link_libraries(app PRIVATE batchtune::batchtune).
//
// What tune() does to your process while it runs:
// - On a CPU it measures memory by installing a tracking allocator as
//   LibTorch's CPU allocator (c10::SetAllocator, priority 255) for the
//   probe, the throughput scan and each arm, and restores the previous one
//   after each. Every CPU tensor allocated meanwhile, on any thread, counts
//   against the budget (options.probe.memory_limit_bytes, default the memory
//   this process may use) and an allocation past it throws an out-of-memory
//   error in whichever thread made it: run tune() while your program's other
//   threads are idle. The tracker is never destroyed, so tensors made during
//   tune() may outlive it safely.
// - On CUDA it reads and resets the caching allocator's peak statistics of
//   the device and calls empty_cache() between trials.
// - It seeds LibTorch's global generator (torch::manual_seed) before each
//   model it makes, so your factory gives the same initial weights every
//   time; reseed afterwards if your program relies on its own stream.
// - With threads > 0 it calls at::set_num_threads for the whole process.
// It writes no file and installs no signal handler: set `hooks.stop` to end
// it early (the report then holds what was measured, marked incomplete).
#pragma once

#include <torch/data/datasets/base.h>
#include <torch/data/example.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/model/report_reader.hpp"
#include "tuner/run/tune.hpp"
#include "tuner/workload/models.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

// ---- The model --------------------------------------------------------------

// ModuleModel<Holder> (tuner/workload/models.hpp) adapts a module holder (the
// type TORCH_MODULE(Net) declares, or a std::shared_ptr<NetImpl>) whose
// forward takes one tensor.

// A model factory from a callable that returns a fresh module each call.
// batchtune seeds LibTorch's generator before each call, so a module that
// initialises its weights from it starts from the same weights every time.
template <class Make>
ModelFactory module_factory(Make make) {
  return [make]() -> std::unique_ptr<Model> {
    auto module = make();
    return std::make_unique<ModuleModel<decltype(module)>>(std::move(module));
  };
}

// ---- The data ---------------------------------------------------------------

enum class Task {
  automatic,       // integer [N] targets: classification; integer [N, T] targets with
                   // integer [N, T] inputs: language model; floating targets: regression
  classification,  // targets: int64 labels [N], 0..num_classes-1
  regression,      // targets: float [N, ...]
  language_model,  // inputs and targets: int64 token ids [N, T]
};

struct TrainingData {
  std::string name = "in-memory";  // the report's workload.data
  torch::Tensor inputs;            // [N, ...]: float, or int64 token ids
  torch::Tensor targets;           // [N] labels, [N, ...] values or [N, T] next tokens
  // Held-out data for the validation loss. Undefined: a seeded random
  // `validation_share` of inputs/targets is held out (never trained on).
  torch::Tensor validation_inputs;
  torch::Tensor validation_targets;
  double validation_share = 0.1;
  Task task = Task::automatic;
  std::int64_t num_classes = 0;    // 0: the largest label (or token id) + 1
};

// Tensors on the CPU, one sample per row of the first dimension.
TrainingData tensor_data(torch::Tensor inputs, torch::Tensor targets, std::string name = "in-memory");

// A torch::data map-style dataset (get(i) returns Example<Tensor, Tensor>,
// size() is known), read once into memory and stacked: batchtune samples
// batches of any size from it, so it must fit in memory.
template <class Dataset>
TrainingData dataset_data(Dataset& dataset, std::string name = "torch::data dataset") {
  const auto size = dataset.size();
  if (!size.has_value() || *size == 0) {
    throw std::invalid_argument("batchtune::dataset_data: the dataset (" + name + ") has no known, non-zero size");
  }
  std::vector<torch::Tensor> inputs, targets;
  inputs.reserve(*size);
  targets.reserve(*size);
  for (std::size_t i = 0; i < *size; ++i) {
    auto example = dataset.get(i);
    inputs.push_back(example.data);
    targets.push_back(example.target);
  }
  return tensor_data(torch::stack(inputs), torch::stack(targets), std::move(name));
}

// ---- The loss and the optimizer -----------------------------------------------

// LossFunction (tuner/workload/workload.hpp): the batch's mean loss as a
// 0-dim tensor. Left empty, cross entropy for labels and tokens, mean
// squared error for regression.
// OptimizerFactory: a fresh optimizer over the parameters at a learning
// rate; the sweep scales the rate per batch size by `lr_scaling`.
struct Optimizer {
  std::string name;                 // the report's workload.optimizer
  double learning_rate = 0.01;      // at options.base_batch
  OptimizerFactory make;
  std::optional<LrScaling> lr_scaling;  // the rule's default: linear for sgd, sqrt otherwise
};

Optimizer sgd(double learning_rate, double momentum = 0.9, double weight_decay = 0);
Optimizer adam(double learning_rate = 1e-3, double weight_decay = 0);
Optimizer adamw(double learning_rate = 1e-3, double weight_decay = 0.01);

// ---- Tuning ---------------------------------------------------------------------

struct Tunable {
  std::string name = "custom";      // the report's workload.model
  ModelFactory model;
  TrainingData data;
  LossFunction loss;                // empty: by the task (above)
  std::string loss_name;            // the report's name for `loss`
  Optimizer optimizer = sgd(0.01);
  std::string device = "auto";      // auto | cpu | cuda | cuda:N
  std::string precision = "fp32";   // fp32 | bf16 | fp16 (autocast)
  int threads = 0;                  // 0: leave LibTorch's setting alone
  std::uint64_t seed = 0;
};

// TunePlan (tuner/run/tune.hpp): batch sizes (empty: auto), budget, seeds,
// objective, memory limit (probe.memory_limit_bytes), noise repeats...
using TuneOptions = TunePlan;

struct TuneResult {
  TuneEnd end = TuneEnd::complete;
  Report report;                  // the typed report: report.recommendation->batch_size
  nlohmann::ordered_json json;    // the same report as `batchtune sweep` writes it
};

// Throws batchtune::Error (reports/util/error.hpp; its exit_code() is the CLI's)
// with one line for data, a model or options it cannot use.
TuneResult tune(const Tunable& tunable, const TuneOptions& options = {}, const TuneHooks& hooks = {});

}  // namespace batchtune
