#include "reports/model/recommendation.hpp"

#include "reports/util/json_util.hpp"

namespace batchtune {

using json_util::number;
using json_util::read_number;

void to_json(nlohmann::json& j, const StepsFit& f) {
  j = {{"min_steps", number(f.min_steps)}, {"critical_batch", number(f.critical_batch)},
       {"r_squared", number(f.r_squared)}, {"points", f.points}};
}
void from_json(const nlohmann::json& j, StepsFit& f) {
  f.min_steps = read_number(j.at("min_steps"));
  f.critical_batch = read_number(j.at("critical_batch"));
  f.r_squared = read_number(j.at("r_squared"));
  j.at("points").get_to(f.points);
}
void to_json(nlohmann::json& j, const StepTimeFit& f) {
  j = {{"fixed_s", number(f.fixed_s)}, {"per_sample_s", number(f.per_sample_s)},
       {"r_squared", number(f.r_squared)}, {"points", f.points},
       {"saturation_batch", f.saturation_batch}};
}
void from_json(const nlohmann::json& j, StepTimeFit& f) {
  f.fixed_s = read_number(j.at("fixed_s"));
  f.per_sample_s = read_number(j.at("per_sample_s"));
  f.r_squared = read_number(j.at("r_squared"));
  j.at("points").get_to(f.points);
  j.at("saturation_batch").get_to(f.saturation_batch);
}
void to_json(nlohmann::json& j, const Recommendation& r) {
  j = nlohmann::json{
      {"objective", r.objective},
      {"status", r.status},
      {"batch_size", r.batch_size},
      {"micro_batch_size", r.micro_batch_size},
      {"accumulation_steps", r.accumulation_steps},
      {"learning_rate", r.learning_rate},
      {"learning_rate_rule", r.learning_rate_rule},
      {"target_loss", r.target_loss},
      {"predicted_seconds_to_target", r.predicted_seconds_to_target},
      {"measured_seconds_to_target", r.measured_seconds_to_target},
      {"max_fit_batch", r.max_fit_batch},
      {"max_fit_label", r.max_fit_label},
      {"max_fit_seconds_to_target", r.max_fit_seconds_to_target},
      {"max_fit_slowdown", r.max_fit_slowdown},
      {"confidence", r.confidence},
      {"confidence_notes", r.confidence_notes},
      {"reasons", r.reasons},
      {"steps_fit", r.steps_fit},
      {"step_time_fit", r.step_time_fit},
      {"noise_scale", r.noise_scale},
      {"predictions", r.predictions}};
  if (r.data_parallel_ranks) j["data_parallel_ranks"] = *r.data_parallel_ranks;
  if (r.validation_loss_tolerance) {
    j["validation_loss_tolerance"] = *r.validation_loss_tolerance;
    j["refused_batch_sizes"] = r.refused_batch_sizes;
  }
}
void from_json(const nlohmann::json& j, Recommendation& r) {
  j.at("objective").get_to(r.objective);
  j.at("status").get_to(r.status);  // schema 1 has none: report_reader adds "recommended"
  j.at("batch_size").get_to(r.batch_size);
  j.at("micro_batch_size").get_to(r.micro_batch_size);
  j.at("accumulation_steps").get_to(r.accumulation_steps);
  if (j.contains("data_parallel_ranks")) j.at("data_parallel_ranks").get_to(r.data_parallel_ranks);
  if (j.contains("validation_loss_tolerance")) j.at("validation_loss_tolerance").get_to(r.validation_loss_tolerance);
  if (j.contains("refused_batch_sizes")) j.at("refused_batch_sizes").get_to(r.refused_batch_sizes);
  j.at("learning_rate").get_to(r.learning_rate);
  if (r.status == RecommendationStatus::recommended && !r.batch_size) {
    throw nlohmann::json::other_error::create(501, "recommendation.batch_size is null while status is recommended", &j);
  }
  j.at("learning_rate_rule").get_to(r.learning_rate_rule);
  j.at("target_loss").get_to(r.target_loss);
  j.at("predicted_seconds_to_target").get_to(r.predicted_seconds_to_target);
  j.at("measured_seconds_to_target").get_to(r.measured_seconds_to_target);
  j.at("max_fit_batch").get_to(r.max_fit_batch);
  r.max_fit_label = j.value("max_fit_label", r.max_fit_label);
  j.at("max_fit_seconds_to_target").get_to(r.max_fit_seconds_to_target);
  j.at("max_fit_slowdown").get_to(r.max_fit_slowdown);
  j.at("confidence").get_to(r.confidence);
  j.at("confidence_notes").get_to(r.confidence_notes);
  j.at("reasons").get_to(r.reasons);
  j.at("steps_fit").get_to(r.steps_fit);
  j.at("step_time_fit").get_to(r.step_time_fit);
  j.at("noise_scale").get_to(r.noise_scale);
  j.at("predictions").get_to(r.predictions);
}

}  // namespace batchtune
