// `batchtune merge`: the parts of a sweep split over machines (`sweep --shard
// I/N`) joined into the one report the unsharded sweep would have written:
// the arms in the sweep's own order, the summaries and the default target
// recomputed over all of them, one recommendation. Parts that do not belong
// together (another workload, machine class, build or setting, a part
// missing or given twice) are refused with the difference named: a
// recommendation made from arms measured under different conditions would
// compare unlike with unlike. Torch-free: it runs wherever reports are read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/analysis/recommend.hpp"
#include "reports/model/report_reader.hpp"

namespace batchtune {

struct MergeInput {
  Report report;                  // read_report of the part
  nlohmann::ordered_json json;    // the same file, keys in written order
};

struct MergeSettings {
  // None: each part's recorded objective (they must agree).
  std::optional<Objective> objective;
  std::optional<std::int64_t> effective_batch;
  std::optional<double> max_validation_loss_excess;
};

struct MergeResult {
  nlohmann::ordered_json report;  // the joined report, in the sweep's layout
  std::vector<std::string> notes; // what the caller should tell the user (e.g. which probe was kept)
};

// Throws InputError naming the part and what differs.
MergeResult merge_reports(const std::vector<MergeInput>& parts, const MergeSettings& settings);

}  // namespace batchtune
