// The public API (include/batchtune/batchtune.hpp): a program's own parts
// made into a Workload, then the same tune() as `batchtune sweep`.
#include "batchtune/batchtune.hpp"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "reports/util/error.hpp"
#include "reports/render/render_text.hpp"
#include "tuner/workload/dataset.hpp"

namespace batchtune {
namespace {

std::string shape_of(const torch::Tensor& t) { return shape_to_string(t.sizes().vec()); }

bool is_integer(const torch::Tensor& t) {
  return !t.is_floating_point() && !t.is_complex() && t.scalar_type() != torch::kBool;
}

TaskKind task_of(const TrainingData& d) {
  switch (d.task) {
    case Task::classification: return TaskKind::classification;
    case Task::regression: return TaskKind::regression;
    case Task::language_model: return TaskKind::language_model;
    case Task::automatic: break;
  }
  if (!is_integer(d.targets)) return TaskKind::regression;
  if (d.targets.dim() == 1) return TaskKind::classification;
  if (d.targets.dim() == 2 && d.inputs.dim() == 2 && is_integer(d.inputs)) return TaskKind::language_model;
  throw InputError("the data (" + d.name + ") has integer targets of shape " + shape_of(d.targets) +
                   ": labels are [N], next tokens [N, T] with [N, T] integer inputs; set task, or make "
                   "regression targets floating point");
}

void check_pair(const torch::Tensor& x, const torch::Tensor& y, const std::string& what, const std::string& name) {
  if (!x.defined() || !y.defined()) {
    throw InputError("the data (" + name + "): " + what + " inputs and targets must both be given");
  }
  if (x.dim() < 1 || y.dim() < 1 || x.size(0) != y.size(0)) {
    throw InputError("the data (" + name + "): " + what + " inputs " + shape_of(x) + " and targets " + shape_of(y) +
                     " must have the same number of samples in their first dimension");
  }
}

Split cpu_split(const torch::Tensor& x, const torch::Tensor& y, TaskKind task) {
  Split s;
  s.inputs = x.to(torch::kCPU).contiguous();
  s.targets = y.to(torch::kCPU).contiguous();
  if (task == TaskKind::regression) {
    s.targets = s.targets.to(torch::kFloat32);
  } else {
    s.targets = s.targets.to(torch::kInt64);
  }
  if (task == TaskKind::language_model) {
    s.inputs = s.inputs.to(torch::kInt64);
  } else if (s.inputs.is_floating_point() && s.inputs.scalar_type() != torch::kFloat32) {
    s.inputs = s.inputs.to(torch::kFloat32);
  }
  return s;
}

Dataset make_dataset(const TrainingData& d, std::uint64_t seed) {
  check_pair(d.inputs, d.targets, "training", d.name);
  const TaskKind task = task_of(d);
  Dataset data;
  data.name = d.name;
  data.source = "in-memory tensors (the C++ API)";
  data.task = task;
  if (d.validation_inputs.defined() || d.validation_targets.defined()) {
    check_pair(d.validation_inputs, d.validation_targets, "validation", d.name);
    data.train = cpu_split(d.inputs, d.targets, task);
    data.validation = cpu_split(d.validation_inputs, d.validation_targets, task);
    data.validation_note = "given by the program";
  } else {
    if (!(d.validation_share > 0 && d.validation_share < 1)) {
      throw UsageError("the data (" + d.name + "): validation_share must be between 0 and 1, got " +
                       std::to_string(d.validation_share));
    }
    const std::int64_t n = d.inputs.size(0);
    const auto held = static_cast<std::int64_t>(std::llround(double(n) * d.validation_share));
    if (held < 1 || held >= n) {
      throw InputError("the data (" + d.name + ") has " + std::to_string(n) + " samples, too few to hold out " +
                       std::to_string(d.validation_share * 100) + "% for validation; give more samples or "
                       "validation tensors");
    }
    // Data is often ordered (by class, by time): hold out a seeded random share.
    BatchSampler shuffle(n, seed);
    const torch::Tensor order = shuffle.next(n);
    const torch::Tensor val = order.slice(0, 0, held), train = order.slice(0, held, n);
    const torch::Tensor x = d.inputs.to(torch::kCPU), y = d.targets.to(torch::kCPU);
    data.train = cpu_split(x.index_select(0, train), y.index_select(0, train), task);
    data.validation = cpu_split(x.index_select(0, val), y.index_select(0, val), task);
    data.validation_note = "a seeded random " + format_number(d.validation_share * 100, "%.3g") +
                           "% of the given samples, never trained on";
  }
  data.sample_shape = std::vector<std::int64_t>(data.train.inputs.sizes().begin() + 1, data.train.inputs.sizes().end());
  const std::vector<std::int64_t> val_shape(data.validation.inputs.sizes().begin() + 1,
                                            data.validation.inputs.sizes().end());
  if (val_shape != data.sample_shape) {
    throw InputError("the data (" + d.name + "): validation inputs are " + shape_to_string(val_shape) +
                     " per sample, training inputs " + shape_to_string(data.sample_shape));
  }
  if (task == TaskKind::regression) {
    data.target_shape = std::vector<std::int64_t>(data.train.targets.sizes().begin() + 1, data.train.targets.sizes().end());
    if (data.target_shape.empty()) {
      // One value per sample: [N] becomes [N, 1], as a model's output would be.
      data.train.targets = data.train.targets.unsqueeze(1);
      data.validation.targets = data.validation.targets.unsqueeze(1);
      data.target_shape = {1};
    }
    return data;
  }
  const torch::Tensor all = torch::cat({data.train.targets.flatten(), data.validation.targets.flatten()});
  const std::int64_t lowest = all.min().item<std::int64_t>();
  const std::int64_t highest = all.max().item<std::int64_t>();
  if (lowest < 0) throw InputError("the data (" + d.name + ") holds the negative label " + std::to_string(lowest));
  if (d.num_classes > 0 && highest >= d.num_classes) {
    throw InputError("the data (" + d.name + ") holds label " + std::to_string(highest) + ", outside num_classes " +
                     std::to_string(d.num_classes));
  }
  data.num_classes = d.num_classes > 0 ? d.num_classes : highest + 1;
  return data;
}

Optimizer builtin(std::string name, double lr, LrScaling rule, OptimizerFactory make) {
  Optimizer o;
  o.name = std::move(name);
  o.learning_rate = lr;
  o.lr_scaling = rule;
  o.make = std::move(make);
  return o;
}

}  // namespace

TrainingData tensor_data(torch::Tensor inputs, torch::Tensor targets, std::string name) {
  TrainingData d;
  d.name = std::move(name);
  d.inputs = std::move(inputs);
  d.targets = std::move(targets);
  return d;
}

Optimizer sgd(double learning_rate, double momentum, double weight_decay) {
  return builtin("sgd", learning_rate, LrScaling::linear, [momentum, weight_decay](std::vector<torch::Tensor> p, double lr) {
    return std::make_unique<torch::optim::SGD>(
        std::move(p), torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(weight_decay));
  });
}

Optimizer adam(double learning_rate, double weight_decay) {
  return builtin("adam", learning_rate, LrScaling::sqrt, [weight_decay](std::vector<torch::Tensor> p, double lr) {
    return std::make_unique<torch::optim::Adam>(std::move(p), torch::optim::AdamOptions(lr).weight_decay(weight_decay));
  });
}

Optimizer adamw(double learning_rate, double weight_decay) {
  return builtin("adamw", learning_rate, LrScaling::sqrt, [weight_decay](std::vector<torch::Tensor> p, double lr) {
    return std::make_unique<torch::optim::AdamW>(std::move(p),
                                                 torch::optim::AdamWOptions(lr).weight_decay(weight_decay));
  });
}

TuneResult tune(const Tunable& t, const TuneOptions& options, const TuneHooks& hooks) {
  if (!t.optimizer.make) throw UsageError("the optimizer (" + t.optimizer.name + ") has no factory");
  WorkloadParts parts;
  parts.model_name = t.name;
  parts.model = t.model;
  parts.data = make_dataset(t.data, t.seed);
  parts.loss = t.loss;
  parts.loss_name = t.loss_name;
  parts.optimizer = t.optimizer.make;
  parts.optimizer_name = t.optimizer.name.empty() ? "custom" : t.optimizer.name;
  parts.optimizer_settings.learning_rate = t.optimizer.learning_rate;
  parts.device = t.device;
  parts.precision = t.precision;
  parts.threads = t.threads;
  parts.seed = t.seed;
  const Workload workload = Workload::from_parts(std::move(parts));
  TunePlan plan = options;
  if (!plan.lr_scaling) plan.lr_scaling = t.optimizer.lr_scaling.value_or(LrScaling::sqrt);
  TuneOutcome outcome = tune(workload, std::move(plan), hooks);
  TuneResult r;
  r.end = outcome.end;
  // Through the reader, as `batchtune report` would read the file.
  r.report = report_from_json(nlohmann::json::parse(outcome.report.dump()), "batchtune::tune");
  r.json = std::move(outcome.report);
  return r;
}

}  // namespace batchtune
