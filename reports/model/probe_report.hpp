// The probe section of a report: the largest batch that fits, how it was
// found, and every trial. Plain data; probes/ fills it in.
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

// How the largest batch is searched for (probes/batch_search.hpp says how each works).
enum class ProbeStrategy { model, binsearch, power };
NLOHMANN_JSON_SERIALIZE_ENUM(ProbeStrategy, {{ProbeStrategy::model, "model"},
                                             {ProbeStrategy::binsearch, "binsearch"},
                                             {ProbeStrategy::power, "power"}})
inline std::string to_string(ProbeStrategy s) { return json_util::enum_word(s); }
inline std::optional<ProbeStrategy> parse_probe_strategy(std::string_view text) {
  return json_util::parse_enum<ProbeStrategy>(text);
}

enum class TrialOutcome { fits, out_of_memory, error, crashed };
NLOHMANN_JSON_SERIALIZE_ENUM(TrialOutcome, {{TrialOutcome::fits, "fits"},
                                            {TrialOutcome::out_of_memory, "out_of_memory"},
                                            {TrialOutcome::error, "error"},
                                            {TrialOutcome::crashed, "crashed"}})

struct ProbeTrial {
  std::int64_t batch_size = 0;
  TrialOutcome outcome = TrialOutcome::fits;
  std::uint64_t peak_bytes = 0;  // at the OOM: the live bytes plus the refused request
  double seconds = 0;
  std::string message;           // the error, for anything but fits
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ProbeTrial, batch_size, outcome, peak_bytes, seconds, message)

// peak(B) = fixed_bytes + per_sample_bytes * B, least squares over fitting trials.
struct MemoryModel {
  double fixed_bytes = 0;
  double per_sample_bytes = 0;
  double r_squared = 0;
  int points = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MemoryModel, fixed_bytes, per_sample_bytes, r_squared, points)

struct ProbeResult {
  ProbeStrategy strategy = ProbeStrategy::model;
  std::string meter;               // cpu-budget | cuda-caching-allocator
  std::string device;
  std::uint64_t capacity_bytes = 0;
  std::string capacity_source;     // where the capacity came from
  std::int64_t multiple_of = 1;
  std::int64_t max_batch = 0;
  double margin = 0;
  std::int64_t largest_fitting_batch = 0;
  std::optional<std::int64_t> first_failing_batch;  // none when capped by max_batch
  std::int64_t safe_max_batch = 0;                  // after the margin
  bool capped = false;                              // max_batch fits
  std::optional<MemoryModel> memory_model;
  std::optional<std::int64_t> predicted_edge;       // from the memory model, before verifying
  std::vector<ProbeTrial> trials;
  double total_seconds = 0;
  bool isolated = false;
  // The smallest batch the model trains at (a BatchNorm model cannot train on
  // one value per channel: batch 1 fails); 1 for most models.
  // What capped the search when `capped`: --max-batch, the training set, a
  // samples budget, or the sweep's throughput knee (the edge is then higher).
  std::string cap_source;
  std::int64_t min_batch = 1;
  std::string min_batch_reason;    // why min_batch > 1, the failing size's error
  // Variable-length samples: every trial trained on the longest ones (the
  // worst case a batch can hold); this says which. Empty for fixed sizes.
  std::string worst_case;
  // Data-parallel: the ranks the probe's global figures count. Its trials,
  // memory line and predicted edge are rank 0's own micro-batches; the
  // largest fitting, safe, smallest and maximum sizes are global (the
  // smallest over the ranks x ranks). 1 otherwise.
  int ranks = 1;
};

void to_json(nlohmann::json& j, const ProbeResult& p);
void from_json(const nlohmann::json& j, ProbeResult& p);

// Least-squares line through (batch, peak) of the trials that fit; none with
// fewer than two distinct batch sizes.
std::optional<MemoryModel> fit_memory_model(const std::vector<ProbeTrial>& trials);

void render_probe_text(std::ostream& out, const ProbeResult& p);

}  // namespace batchtune
