// Reading a saved report back: one clear line for a missing file, malformed
// or truncated JSON, nesting deeper than any report (a crafted file must not
// exhaust the stack), a missing or mistyped field (named), or a
// schema_version newer than this batchtune reads. Unknown fields are ignored.
// Older schema versions are upgraded in memory (the typed model is always
// the current version's).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "reports/model/machine_info.hpp"
#include "reports/model/probe_report.hpp"
#include "reports/model/recommendation.hpp"
#include "reports/model/schema_version.hpp"
#include "reports/model/sweep_report.hpp"
#include "reports/model/whole_run.hpp"
#include "reports/model/workload_info.hpp"

namespace batchtune {

// A report nests about 6 levels deep (sweep.arms[].evaluations[].loss);
// anything past this is not a report, and is refused before it is parsed.
inline constexpr int kMaxReportDepth = 64;

struct Report {
  nlohmann::json json;  // the whole file as written (not upgraded), for `show --get`
  std::string path;     // where it was read from (empty when built in memory)
  int schema_version = 0;  // as written; the typed sections below are kReportSchemaVersion's
  std::string tool_version;
  std::string tool_commit;
  std::optional<MachineInfo> machine;  // context.machine
  std::string date;                    // context.date, UTC
  std::string command_line;            // context.command_line
  WorkloadInfo workload;
  std::optional<ProbeResult> probe;
  std::optional<SweepResult> sweep;
  std::optional<Recommendation> recommendation;
  std::optional<WholeRun> whole_run;   // a whole-run tune's measurements and predictions
};

// The typed model of a report already parsed (read_report without the file);
// `source` names it in errors.
Report report_from_json(const nlohmann::json& json, const std::string& source);

// Throws InputError naming `path` and what is wrong.
Report read_report(const std::string& path);

// Throws InputError naming `source` when `text` nests arrays and objects
// deeper than kMaxReportDepth (brackets inside strings do not count).
void check_nesting_depth(const std::string& text, const std::string& source);

// The recommended batch size for `show --get recommendation.batch_size` and
// the like: throws NoRecommendationError (exit 1) naming the reason when the
// report recommends none (status "none", or no recommendation section) and
// `dotted` asks for one of the recommendation's values that are then null.
void require_recommendation_for(const Report& report, const std::string& dotted);

// The value at a dotted path ("recommendation.batch_size", "sweep.arms.0.steps").
// Throws UsageError naming the key that is missing and the keys there are.
const nlohmann::json& value_at(const nlohmann::json& root, const std::string& dotted);

// Scalars as a shell script wants them (strings unquoted); others as JSON.
std::string format_value(const nlohmann::json& value);

}  // namespace batchtune
