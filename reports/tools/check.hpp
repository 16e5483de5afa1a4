// `batchtune check`: the conditions a CI job holds a report to. Each failed
// condition is one line a person can act on; no failed line means exit 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reports/model/recommendation.hpp"
#include "reports/model/report_reader.hpp"

namespace batchtune {

struct CheckSettings {
  std::optional<std::int64_t> min_batch;  // the largest fitting batch must be at least this
  std::optional<Confidence> min_confidence;  // the recommendation's confidence must be at least this
  double max_regression = 0.10;           // allowed loss against the baseline (throughput, largest fitting batch)
  double alpha = 0.05;                    // a throughput drop counts only when the U test says it is not noise
};

struct CheckOutcome {
  std::vector<std::string> passed;  // what was checked and held, one line each
  std::vector<std::string> failed;  // one line per failed condition
  std::vector<std::string> warnings;  // what held but on thin evidence (too few repetitions)
};

CheckOutcome check_report(const Report& report, const Report* baseline, const CheckSettings& settings);

}  // namespace batchtune
