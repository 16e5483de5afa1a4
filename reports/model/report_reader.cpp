#include "reports/model/report_reader.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

#include "reports/util/error.hpp"
#include "reports/util/json_util.hpp"

namespace batchtune {
namespace {

// nlohmann's messages start with "[json.exception.type_error.302] "; keep the rest.
std::string plain(const std::string& what) {
  const auto close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

// The first key whose value has another type than the writer gives it, found
// by comparing with what a default value of the section serialises to (null
// there is an optional: anything goes). "" when none is found.
std::string mistyped_key(const nlohmann::json& got, const nlohmann::json& want, const std::string& prefix) {
  if (!got.is_object() || !want.is_object()) return "";
  for (auto it = want.begin(); it != want.end(); ++it) {
    if (!got.contains(it.key())) continue;  // nlohmann names a missing key itself
    const auto& g = got.at(it.key());
    const auto& w = it.value();
    if (w.is_null() || g.is_null()) continue;
    const bool same = (w.is_number() && g.is_number()) || (w.is_boolean() && g.is_boolean()) ||
                      (w.is_string() && g.is_string()) || (w.is_array() && g.is_array()) ||
                      (w.is_object() && g.is_object());
    if (!same) return prefix + it.key() + " (a " + g.type_name() + " where a " + w.type_name() + " belongs)";
    const std::string inner = mistyped_key(g, w, prefix + it.key() + ".");
    if (!inner.empty()) return inner;
  }
  return "";
}

template <typename T>
T read_section(const nlohmann::json& j, const std::string& path, const char* section) {
  try {
    return j.at(section).get<T>();
  } catch (const nlohmann::json::exception& e) {
    std::string where;
    try {
      where = mistyped_key(j.at(section), nlohmann::json(T{}), std::string(section) + ".");
    } catch (const std::exception&) {
    }
    throw InputError(path + ": section '" + section + "' is not what batchtune writes: " +
                     (where.empty() ? "" : where + ": ") + plain(e.what()) +
                     "; was the file edited or written by another tool?");
  }
}

// Every field of a report that holds an enum's word ("*": each item of a
// list), with the words it may hold. NLOHMANN_JSON_SERIALIZE_ENUM reads any
// other value as the enum's first, silently; these are checked first instead,
// and refused naming the field.
struct EnumField {
  const char* path;
  std::vector<std::string> (*words)();
};
const EnumField kEnumFields[] = {
    {"probe.strategy", json_util::enum_words<ProbeStrategy>},
    {"probe.trials.*.outcome", json_util::enum_words<TrialOutcome>},
    {"sweep.budget_kind", json_util::enum_words<BudgetKind>},
    {"sweep.lr_scaling", json_util::enum_words<LrScaling>},
    {"sweep.arms.*.status", json_util::enum_words<ArmStatus>},
    {"recommendation.objective", json_util::enum_words<Objective>},
    {"recommendation.status", json_util::enum_words<RecommendationStatus>},
    {"recommendation.confidence", json_util::enum_words<Confidence>},
    {"recommendation.noise_scale.status", json_util::enum_words<NoiseScaleStatus>},
};

// Checks the values at `rest` (a dotted path) below `node`, named from
// `walked`. A missing key or a section of another type is left to the typed
// reader, which names it.
void check_enum_words(const nlohmann::json& node, const std::string& rest, const std::string& walked,
                      const EnumField& field, const std::string& source) {
  if (rest.empty()) {
    const auto words = field.words();
    if (node.is_string() && std::find(words.begin(), words.end(), node.get<std::string>()) != words.end()) return;
    std::string list;
    for (const auto& w : words) list += (list.empty() ? "" : ", ") + w;
    throw InputError(source + ": " + walked + " is " + node.dump() + ", not one of " + list +
                     "; was the file edited or written by another tool?");
  }
  const std::size_t dot = rest.find('.');
  const std::string key = rest.substr(0, dot);
  const std::string below = dot == std::string::npos ? "" : rest.substr(dot + 1);
  const std::string here = walked.empty() ? "" : walked + ".";
  if (key == "*") {
    if (!node.is_array()) return;
    for (std::size_t i = 0; i < node.size(); ++i) {
      check_enum_words(node[i], below, here + std::to_string(i), field, source);
    }
  } else if (node.is_object() && node.contains(key)) {
    check_enum_words(node.at(key), below, here + key, field, source);
  }
}

// Schema 1 -> 2, on the JSON: `step_seconds` became `compute_seconds`, and
// the recommendation gained `status` (every schema 1 recommendation has a
// batch size). `target` changed meaning; the typed model recomputes it.
void upgrade_from_schema_1(nlohmann::json& j) {
  if (j.contains("sweep") && j["sweep"].is_object() && j["sweep"].contains("arms") && j["sweep"]["arms"].is_array()) {
    for (auto& arm : j["sweep"]["arms"]) {
      if (!arm.is_object() || !arm.contains("step_seconds") || arm.contains("compute_seconds")) continue;
      arm["compute_seconds"] = std::move(arm["step_seconds"]);
      arm.erase("step_seconds");
    }
  }
  if (j.contains("recommendation") && j["recommendation"].is_object() && !j["recommendation"].contains("status")) {
    j["recommendation"]["status"] = RecommendationStatus::recommended;
  }
}

}  // namespace

void check_nesting_depth(const std::string& text, const std::string& source) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxReportDepth) {
        throw InputError(source + ": nested deeper than " + std::to_string(kMaxReportDepth) + " levels at byte " +
                         std::to_string(i) + ": not a batchtune report (crafted or corrupt?)");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

Report read_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the report (no such file, or not readable)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  // Before parsing: nlohmann's parser and destructor handle any depth only
  // as far as the stack goes, and a few hundred KB of brackets go further.
  check_nesting_depth(text, path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path + ": not valid JSON (truncated or corrupt?) at byte " + std::to_string(e.byte) + ": " +
                     plain(e.what()));
  }
  Report r = report_from_json(json, path);
  r.path = path;
  return r;
}

Report report_from_json(const nlohmann::json& json, const std::string& path) {
  Report r;
  r.json = json;
  if (!r.json.is_object() || !r.json.contains("schema_version")) {
    throw InputError(path + ": not a batchtune report (no schema_version)");
  }
  if (!r.json.at("schema_version").is_number_integer()) {
    throw InputError(path + ": schema_version must be a whole number");
  }
  r.schema_version = r.json.at("schema_version").get<int>();
  if (r.schema_version > kReportSchemaVersion) {
    throw InputError(path + ": schema_version " + std::to_string(r.schema_version) +
                     " is newer than this batchtune reads (" + std::to_string(kReportSchemaVersion) +
                     "); upgrade batchtune");
  }
  if (r.schema_version < kOldestReadableSchemaVersion) {
    throw InputError(path + ": schema_version " + std::to_string(r.schema_version) + " is not valid");
  }
  for (const char* key : {"tool", "context", "workload", "probe", "sweep", "recommendation"}) {
    if (!r.json.contains(key)) throw InputError(path + ": missing the required field '" + key + "'");
  }
  nlohmann::json upgraded;
  if (r.schema_version == 1) {
    upgraded = r.json;
    upgrade_from_schema_1(upgraded);
  }
  const nlohmann::json& doc = r.schema_version == 1 ? upgraded : r.json;
  for (const auto& field : kEnumFields) check_enum_words(doc, field.path, "", field, path);
  try {
    const auto& tool = doc.at("tool");
    r.tool_version = tool.value("version", "");
    r.tool_commit = tool.value("commit", "");
    const auto& context = doc.at("context");
    r.date = context.value("date", "");
    r.command_line = context.value("command_line", "");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": section 'tool' or 'context' is not what batchtune writes: " + plain(e.what()));
  }
  if (doc.at("context").is_object() && doc.at("context").contains("machine")) {
    r.machine = read_section<MachineInfo>(doc.at("context"), path, "machine");
  }
  r.workload = read_section<WorkloadInfo>(doc, path, "workload");
  if (!doc.at("probe").is_null()) r.probe = read_section<ProbeResult>(doc, path, "probe");
  if (!doc.at("sweep").is_null()) {
    r.sweep = read_section<SweepResult>(doc, path, "sweep");
    // Schema 1's `target` was the first evaluation at the target; the one
    // meaning now is the interpolated crossing, recomputed from the
    // evaluations (summaries with it).
    // A report written before the generalisation figures lacks them: they
    // are rebuilt from the arms the same way.
    const auto& summaries = doc.at("sweep").at("summaries");
    const bool no_generalization = !summaries.empty() && !summaries.front().contains("final_training_loss");
    if (r.schema_version == 1 || no_generalization) summarise_targets(*r.sweep);
  }
  if (!doc.at("recommendation").is_null()) {
    r.recommendation = read_section<Recommendation>(doc, path, "recommendation");
  }
  if (doc.contains("whole_run") && !doc.at("whole_run").is_null()) {
    // Keys added to the section after it first shipped: null where absent.
    nlohmann::json section = doc.at("whole_run");
    if (section.is_object() && section.contains("branch_points") && section.at("branch_points").is_array()) {
      for (auto& p : section.at("branch_points")) {
        if (!p.is_object()) continue;
        if (!p.contains("curve_loss")) p["curve_loss"] = nullptr;
        if (!p.contains("arms") || !p.at("arms").is_array()) continue;
        for (auto& a : p.at("arms")) {
          if (!a.is_object()) continue;
          for (const char* key : {"averaged_loss", "momentum", "momentum_rescale", "second_moment_rescale",
                                  "mean_step_seconds"}) {
            if (!a.contains(key)) a[key] = nullptr;
          }
          if (!a.contains("from_trunk")) a["from_trunk"] = false;
        }
      }
    }
    r.whole_run = read_section<WholeRun>(nlohmann::json{{"whole_run", section}}, path, "whole_run");
  }
  return r;
}

const nlohmann::json& value_at(const nlohmann::json& root, const std::string& dotted) {
  const nlohmann::json* node = &root;
  std::string walked;
  std::size_t pos = 0;
  while (pos <= dotted.size()) {
    const std::size_t end = std::min(dotted.find('.', pos), dotted.size());
    const std::string key = dotted.substr(pos, end - pos);
    const std::string here = walked.empty() ? "the report" : "'" + walked + "'";
    if (node->is_object()) {
      if (!node->contains(key)) {
        std::string keys;
        for (auto it = node->begin(); it != node->end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
        throw UsageError("--get " + dotted + ": no key '" + key + "' in " + here + "; there are: " + keys);
      }
      node = &node->at(key);
    } else if (node->is_array()) {
      const bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isdigit(c); });
      if (!digits || key.size() > 9 || std::stoul(key) >= node->size()) {
        throw UsageError("--get " + dotted + ": " + here + " is a list of " + std::to_string(node->size()) +
                         " items; use an index from 0 to " + std::to_string(node->size()) + " - 1");
      }
      node = &node->at(std::stoul(key));
    } else {
      throw UsageError("--get " + dotted + ": " + here + " is a single value, it has no '" + key + "'");
    }
    walked += (walked.empty() ? "" : ".") + key;
    pos = end + 1;
  }
  return *node;
}

void require_recommendation_for(const Report& report, const std::string& dotted) {
  static const char* const answers[] = {"recommendation.batch_size", "recommendation.micro_batch_size",
                                        "recommendation.accumulation_steps", "recommendation.learning_rate"};
  if (std::find(std::begin(answers), std::end(answers), dotted) == std::end(answers)) return;
  const std::string source = report.path.empty() ? std::string("the report") : report.path;
  if (!report.recommendation) {
    throw NoRecommendationError(source + ": no recommendation in this report (" +
                                (report.sweep ? report.sweep->incomplete ? "the sweep is incomplete" : "none was made"
                                              : "it holds no sweep") +
                                "), so no " + dotted);
  }
  if (!report.recommendation->recommends()) {
    const auto& reasons = report.recommendation->reasons;
    throw NoRecommendationError(source + ": no recommendation, no batch size had the evidence" +
                                (reasons.empty() ? std::string() : ": " + reasons.front()));
  }
  if (report.sweep && report.sweep->incomplete) {
    // A recommendation recomputed from the arms that finished before an
    // interrupt or a failure is thin evidence: not handed on as an answer.
    throw NoRecommendationError(
        source + ": the sweep is incomplete (" + report.sweep->incomplete_reason + "); its recommendation of batch " +
        std::to_string(report.recommendation->batch_size.value_or(0)) +
        " comes from the arms that finished, so no " + dotted + " is handed on; rerun the sweep, or read it with "
        "`batchtune show " + source + "`");
  }
}

std::string format_value(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "null";
  return value.is_structured() ? value.dump(2) : value.dump();
}

}  // namespace batchtune
