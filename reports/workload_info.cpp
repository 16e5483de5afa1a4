#include "reports/workload_info.hpp"

namespace batchtune {

void to_json(nlohmann::json& j, const WorkloadInfo& w) {
  j = nlohmann::json{
      {"model", w.model},
      {"parameter_count", w.parameter_count},
      {"data", w.data},
      {"data_source", w.data_source},
      {"train_samples", w.train_samples},
      {"validation_samples", w.validation_samples},
      {"validation_split", w.validation_split},
      {"input_shape", w.input_shape},
      {"task", w.task},
      {"num_classes", w.num_classes},
      {"loss_floor", w.loss_floor ? nlohmann::json(*w.loss_floor) : nlohmann::json(nullptr)},
      {"loss", w.loss},
      {"optimizer", w.optimizer},
      {"learning_rate", w.learning_rate},
      {"momentum", w.momentum},
      {"weight_decay", w.weight_decay},
      {"precision", w.precision},
      {"device", w.device},
      {"seed", w.seed},
  };
}

void from_json(const nlohmann::json& j, WorkloadInfo& w) {
  j.at("model").get_to(w.model);
  j.at("parameter_count").get_to(w.parameter_count);
  j.at("data").get_to(w.data);
  j.at("data_source").get_to(w.data_source);
  j.at("train_samples").get_to(w.train_samples);
  j.at("validation_samples").get_to(w.validation_samples);
  j.at("validation_split").get_to(w.validation_split);
  j.at("input_shape").get_to(w.input_shape);
  j.at("task").get_to(w.task);
  j.at("num_classes").get_to(w.num_classes);
  const auto& floor = j.at("loss_floor");
  w.loss_floor = floor.is_null() ? std::nullopt : std::optional<double>(floor.get<double>());
  j.at("loss").get_to(w.loss);
  j.at("optimizer").get_to(w.optimizer);
  j.at("learning_rate").get_to(w.learning_rate);
  j.at("momentum").get_to(w.momentum);
  j.at("weight_decay").get_to(w.weight_decay);
  j.at("precision").get_to(w.precision);
  j.at("device").get_to(w.device);
  j.at("seed").get_to(w.seed);
}

}  // namespace batchtune
