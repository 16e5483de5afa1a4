#include "reports/report_reader.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "reports/error.hpp"

namespace batchtune {
namespace {

// nlohmann's messages start with "[json.exception.type_error.302] "; keep the rest.
std::string plain(const std::string& what) {
  const auto close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

template <typename T>
T read_section(const nlohmann::json& j, const std::string& path, const char* section) {
  try {
    return j.at(section).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": section '" + section + "' is not what batchtune writes: " + plain(e.what()) +
                     "; was the file edited or written by another tool?");
  }
}

}  // namespace

Report read_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the report (no such file, or not readable)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(buffer.str());
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
  if (r.schema_version < 1) throw InputError(path + ": schema_version " + std::to_string(r.schema_version) + " is not valid");
  for (const char* key : {"tool", "context", "workload", "probe", "sweep", "recommendation"}) {
    if (!r.json.contains(key)) throw InputError(path + ": missing the required field '" + key + "'");
  }
  try {
    const auto& tool = r.json.at("tool");
    r.tool_version = tool.value("version", "");
    r.tool_commit = tool.value("commit", "");
    const auto& context = r.json.at("context");
    r.date = context.value("date", "");
    r.command_line = context.value("command_line", "");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": section 'tool' or 'context' is not what batchtune writes: " + plain(e.what()));
  }
  if (r.json.at("context").is_object() && r.json.at("context").contains("machine")) {
    r.machine = read_section<MachineInfo>(r.json.at("context"), path, "machine");
  }
  r.workload = read_section<WorkloadInfo>(r.json, path, "workload");
  if (!r.json.at("probe").is_null()) r.probe = read_section<ProbeResult>(r.json, path, "probe");
  if (!r.json.at("sweep").is_null()) r.sweep = read_section<SweepResult>(r.json, path, "sweep");
  if (!r.json.at("recommendation").is_null()) {
    r.recommendation = read_section<Recommendation>(r.json, path, "recommendation");
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

std::string format_value(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "null";
  return value.is_structured() ? value.dump(2) : value.dump();
}

}  // namespace batchtune
