#include "reports/recommendation.hpp"

#include "reports/json_util.hpp"

namespace batchtune {

using json_util::number;
using json_util::optional;
using json_util::read_number;
using json_util::read_optional;

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
       {"saturation_batch", optional(f.saturation_batch)}};
}
void from_json(const nlohmann::json& j, StepTimeFit& f) {
  f.fixed_s = read_number(j.at("fixed_s"));
  f.per_sample_s = read_number(j.at("per_sample_s"));
  f.r_squared = read_number(j.at("r_squared"));
  j.at("points").get_to(f.points);
  f.saturation_batch = read_optional<double>(j, "saturation_batch");
}
void to_json(nlohmann::json& j, const NoiseScale& n) {
  j = {{"status", n.status},
       {"message", n.message},
       {"small_batch", n.small_batch},
       {"large_batch", n.large_batch},
       {"repeats", n.repeats},
       {"warm_in_steps", n.warm_in_steps},
       {"gradient_norm_sq", optional(n.gradient_norm_sq)},
       {"trace_covariance", optional(n.trace_covariance)},
       {"simple_noise_scale", optional(n.simple_noise_scale)},
       {"low", optional(n.low)},
       {"high", optional(n.high)},
       {"small_norms_sq", n.small_norms_sq},
       {"large_norms_sq", n.large_norms_sq}};
}
void from_json(const nlohmann::json& j, NoiseScale& n) {
  j.at("status").get_to(n.status);
  j.at("message").get_to(n.message);
  j.at("small_batch").get_to(n.small_batch);
  j.at("large_batch").get_to(n.large_batch);
  j.at("repeats").get_to(n.repeats);
  j.at("warm_in_steps").get_to(n.warm_in_steps);
  n.gradient_norm_sq = read_optional<double>(j, "gradient_norm_sq");
  n.trace_covariance = read_optional<double>(j, "trace_covariance");
  n.simple_noise_scale = read_optional<double>(j, "simple_noise_scale");
  n.low = read_optional<double>(j, "low");
  n.high = read_optional<double>(j, "high");
  j.at("small_norms_sq").get_to(n.small_norms_sq);
  j.at("large_norms_sq").get_to(n.large_norms_sq);
}
void to_json(nlohmann::json& j, const BatchPrediction& p) {
  j = {{"batch_size", p.batch_size},
       {"swept", p.swept},
       {"steps_to_target", optional(p.steps_to_target)},
       {"step_s", optional(p.step_s)},
       {"seconds_to_target", optional(p.seconds_to_target)},
       {"samples_per_s", optional(p.samples_per_s)},
       {"measured_seconds_to_target", optional(p.measured_seconds_to_target)}};
}
void from_json(const nlohmann::json& j, BatchPrediction& p) {
  j.at("batch_size").get_to(p.batch_size);
  j.at("swept").get_to(p.swept);
  p.steps_to_target = read_optional<double>(j, "steps_to_target");
  p.step_s = read_optional<double>(j, "step_s");
  p.seconds_to_target = read_optional<double>(j, "seconds_to_target");
  p.samples_per_s = read_optional<double>(j, "samples_per_s");
  p.measured_seconds_to_target = read_optional<double>(j, "measured_seconds_to_target");
}
void to_json(nlohmann::json& j, const Recommendation& r) {
  j = nlohmann::json{
      {"objective", r.objective},
      {"status", r.status},
      {"batch_size", optional(r.batch_size)},
      {"micro_batch_size", optional(r.micro_batch_size)},
      {"accumulation_steps", optional(r.accumulation_steps)},
      {"learning_rate", optional(r.learning_rate)},
      {"learning_rate_rule", r.learning_rate_rule},
      {"target_loss", optional(r.target_loss)},
      {"predicted_seconds_to_target", optional(r.predicted_seconds_to_target)},
      {"measured_seconds_to_target", optional(r.measured_seconds_to_target)},
      {"max_fit_batch", r.max_fit_batch},
      {"max_fit_label", r.max_fit_label},
      {"max_fit_seconds_to_target", optional(r.max_fit_seconds_to_target)},
      {"max_fit_slowdown", optional(r.max_fit_slowdown)},
      {"confidence", r.confidence},
      {"confidence_notes", r.confidence_notes},
      {"reasons", r.reasons},
      {"steps_fit", optional(r.steps_fit)},
      {"step_time_fit", optional(r.step_time_fit)},
      {"noise_scale", r.noise_scale},
      {"predictions", r.predictions}};
}
void from_json(const nlohmann::json& j, Recommendation& r) {
  j.at("objective").get_to(r.objective);
  j.at("status").get_to(r.status);  // schema 1 has none: report_reader adds "recommended"
  if (r.status != kRecommended && r.status != kNoRecommendation) {
    throw nlohmann::json::other_error::create(
        501, "recommendation.status '" + r.status + "' is neither recommended nor none", &j);
  }
  r.batch_size = read_optional<std::int64_t>(j, "batch_size");
  r.micro_batch_size = read_optional<std::int64_t>(j, "micro_batch_size");
  r.accumulation_steps = read_optional<std::int64_t>(j, "accumulation_steps");
  r.learning_rate = read_optional<double>(j, "learning_rate");
  if (r.status == kRecommended && !r.batch_size) {
    throw nlohmann::json::other_error::create(501, "recommendation.batch_size is null while status is recommended", &j);
  }
  j.at("learning_rate_rule").get_to(r.learning_rate_rule);
  r.target_loss = read_optional<double>(j, "target_loss");
  r.predicted_seconds_to_target = read_optional<double>(j, "predicted_seconds_to_target");
  r.measured_seconds_to_target = read_optional<double>(j, "measured_seconds_to_target");
  j.at("max_fit_batch").get_to(r.max_fit_batch);
  r.max_fit_label = j.value("max_fit_label", r.max_fit_label);
  r.max_fit_seconds_to_target = read_optional<double>(j, "max_fit_seconds_to_target");
  r.max_fit_slowdown = read_optional<double>(j, "max_fit_slowdown");
  j.at("confidence").get_to(r.confidence);
  j.at("confidence_notes").get_to(r.confidence_notes);
  j.at("reasons").get_to(r.reasons);
  r.steps_fit = read_optional<StepsFit>(j, "steps_fit");
  r.step_time_fit = read_optional<StepTimeFit>(j, "step_time_fit");
  j.at("noise_scale").get_to(r.noise_scale);
  j.at("predictions").get_to(r.predictions);
}

}  // namespace batchtune
