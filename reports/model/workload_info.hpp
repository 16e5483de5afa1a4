// What was trained: the workload section of a report. Plain data, filled in by
// tuner/workload/workload.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/util/json_util.hpp"

namespace batchtune {

struct WorkloadInfo {
  std::string model;                     // "cnn", or the TorchScript file
  std::int64_t parameter_count = 0;
  std::string data;                      // "fashion-mnist", "synthetic", ...
  std::string data_source;               // folder, file or generator
  std::int64_t train_samples = 0;
  std::int64_t validation_samples = 0;
  std::string validation_split;          // how it was made
  std::vector<std::int64_t> input_shape; // one sample, no batch dimension
  std::string task;                      // classification | regression | language_model | model_defined
  std::int64_t num_classes = 0;          // or vocabulary size
  std::optional<double> loss_floor;      // known floor of the loss (synthetic tokens)
  std::string loss;                      // cross_entropy | mse
  std::string optimizer;                 // sgd | adam | adamw
  double learning_rate = 0;
  double momentum = 0;
  double weight_decay = 0;
  std::string precision = "fp32";
  std::string device;                    // "cpu", "cuda:0"
  std::uint64_t seed = 0;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WorkloadInfo, model, parameter_count, data, data_source, train_samples,
                                   validation_samples, validation_split, input_shape, task, num_classes, loss_floor,
                                   loss, optimizer, learning_rate, momentum, weight_decay, precision, device, seed)

}  // namespace batchtune
