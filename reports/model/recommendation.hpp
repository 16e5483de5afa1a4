// The recommendation section of a report: the batch size to train with, the
// learning rate for it, and the evidence (fits, noise scale, predictions) a
// person can check. Plain data; reports/analysis/recommend.cpp computes it from a sweep.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/util/json_util.hpp"

namespace batchtune {

// What the recommendation optimises: wall-clock to the target loss,
// samples/s, fewest samples to the target, or the largest safe batch.
enum class Objective { time_to_target, throughput, sample_efficiency, max_fit };
NLOHMANN_JSON_SERIALIZE_ENUM(Objective, {{Objective::time_to_target, "time-to-target"},
                                         {Objective::throughput, "throughput"},
                                         {Objective::sample_efficiency, "sample-efficiency"},
                                         {Objective::max_fit, "max-fit"}})
inline std::string to_string(Objective o) { return json_util::enum_word(o); }
inline std::optional<Objective> parse_objective(std::string_view text) {
  return json_util::parse_enum<Objective>(text);
}

// none: there is no recommendation to be confident in.
enum class Confidence { high, medium, low, none };
NLOHMANN_JSON_SERIALIZE_ENUM(Confidence, {{Confidence::high, "high"},
                                          {Confidence::medium, "medium"},
                                          {Confidence::low, "low"},
                                          {Confidence::none, "none"}})
inline std::string to_string(Confidence c) { return json_util::enum_word(c); }

// Steps to the target against batch size: S(B) = S_min (1 + B_crit / B),
// fitted as a line in 1/B (McCandlish et al. 2018).
struct StepsFit {
  double min_steps = 0;       // S_min
  double critical_batch = 0;  // B_crit
  double r_squared = 0;
  int points = 0;
};

// Step time against batch size: t(B) = t0 + c B.
struct StepTimeFit {
  double fixed_s = 0;         // t0
  double per_sample_s = 0;    // c
  double r_squared = 0;
  int points = 0;
  std::optional<double> saturation_batch;  // t0 / c: past it, throughput grows little
};

// Simple noise scale B_simple = tr(Sigma) / |G|^2 from squared gradient norms
// at two batch sizes at the same weights.
enum class NoiseScaleStatus { measured, noise_dominates, not_measured };
NLOHMANN_JSON_SERIALIZE_ENUM(NoiseScaleStatus, {{NoiseScaleStatus::measured, "measured"},
                                                {NoiseScaleStatus::noise_dominates, "noise_dominates"},
                                                {NoiseScaleStatus::not_measured, "not_measured"}})
inline std::string to_string(NoiseScaleStatus s) { return json_util::enum_word(s); }
// The status in words for a person ("not measured", never the JSON's "not_measured").
inline std::string describe(NoiseScaleStatus s) {
  switch (s) {
    case NoiseScaleStatus::measured: return "measured";
    case NoiseScaleStatus::noise_dominates: return "noise dominates (the mean gradient is lost in its noise)";
    case NoiseScaleStatus::not_measured: return "not measured";
  }
  return "unknown";
}

struct NoiseScale {
  NoiseScaleStatus status = NoiseScaleStatus::not_measured;
  std::string message;                  // why, when not measured
  std::int64_t small_batch = 0;
  std::int64_t large_batch = 0;
  int repeats = 0;
  std::int64_t warm_in_steps = 0;        // steps trained before measuring
  std::optional<double> gradient_norm_sq;   // |G|^2 estimate
  std::optional<double> trace_covariance;   // tr(Sigma) estimate
  std::optional<double> simple_noise_scale; // B_simple
  std::optional<double> low;                // 10th percentile of a bootstrap over repeats
  std::optional<double> high;               // 90th percentile
  std::vector<double> small_norms_sq;       // raw |G_b|^2 per repeat
  std::vector<double> large_norms_sq;       // raw |G_B|^2 per repeat
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(NoiseScale, status, message, small_batch, large_batch, repeats, warm_in_steps,
                                   gradient_norm_sq, trace_covariance, simple_noise_scale, low, high, small_norms_sq,
                                   large_norms_sq)

// What the models predict for one batch size.
struct BatchPrediction {
  std::int64_t batch_size = 0;
  bool swept = false;                           // the sweep ran this size
  std::optional<double> steps_to_target;        // S(B)
  std::optional<double> step_s;                 // t(B)
  std::optional<double> seconds_to_target;      // T(B) = S(B) t(B)
  std::optional<double> samples_per_s;          // B / t(B)
  std::optional<double> measured_seconds_to_target;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BatchPrediction, batch_size, swept, steps_to_target, step_s, seconds_to_target,
                                   samples_per_s, measured_seconds_to_target)

// No answer without evidence: when no batch size has what the objective
// needs (no arm completed, or none reached the target in every seed), status
// is "none", the batch size, micro-batch, accumulation steps and learning
// rate are null, confidence is "none", and the reasons say why and what to
// change. Everything measured (fits, predictions, noise scale) is still there.
enum class RecommendationStatus { recommended, none };
NLOHMANN_JSON_SERIALIZE_ENUM(RecommendationStatus, {{RecommendationStatus::recommended, "recommended"},
                                                    {RecommendationStatus::none, "none"}})

struct Recommendation {
  Objective objective = Objective::time_to_target;
  RecommendationStatus status = RecommendationStatus::recommended;
  std::optional<std::int64_t> batch_size;          // the effective batch: micro_batch_size x accumulation_steps
  std::optional<std::int64_t> micro_batch_size;    // what goes through the model at once
  std::optional<std::int64_t> accumulation_steps;  // 1: no accumulation
  // Data-parallel only: the ranks the batch is split over; micro_batch_size
  // is then each rank's (batch_size = micro x ranks x accumulation).
  std::optional<int> data_parallel_ranks;
  // --max-val-loss-excess, when given: the tolerance, and the swept sizes it
  // refused (their final validation loss too far above the best).
  std::optional<double> validation_loss_tolerance;
  std::vector<std::int64_t> refused_batch_sizes;
  std::optional<double> learning_rate;
  std::string learning_rate_rule;        // how it was derived, in words
  std::optional<double> target_loss;
  std::optional<double> predicted_seconds_to_target;
  std::optional<double> measured_seconds_to_target;  // interpolated crossing, when the sweep ran it
  // What max_fit_batch is, in words: the largest batch that fits (the probe's
  // safe maximum), or, when the probe was capped below the memory edge (the
  // throughput knee, the training set), the largest size it verified.
  std::string max_fit_label = "the largest batch that fits (safe maximum)";
  std::int64_t max_fit_batch = 0;            // the probe's safe maximum: what "largest that fits" tools pick
  std::optional<double> max_fit_seconds_to_target;
  std::optional<double> max_fit_slowdown;    // T(largest) / T(recommended)
  std::optional<StepsFit> steps_fit;
  std::optional<StepTimeFit> step_time_fit;
  NoiseScale noise_scale;
  Confidence confidence = Confidence::none;  // none without a recommendation
  std::vector<std::string> confidence_notes;
  std::vector<std::string> reasons;      // sentences a person can check against the numbers
  std::vector<BatchPrediction> predictions;

  // A batch size was recommended (status "recommended" with a batch size).
  bool recommends() const { return status == RecommendationStatus::recommended && batch_size.has_value(); }
};

void to_json(nlohmann::json& j, const StepsFit& f);
void from_json(const nlohmann::json& j, StepsFit& f);
void to_json(nlohmann::json& j, const StepTimeFit& f);
void from_json(const nlohmann::json& j, StepTimeFit& f);
void to_json(nlohmann::json& j, const Recommendation& r);
void from_json(const nlohmann::json& j, Recommendation& r);

}  // namespace batchtune
