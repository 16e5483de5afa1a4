#include "reports/tools/handoff.hpp"

#include <cctype>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "reports/util/error.hpp"

namespace batchtune {
namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string dashed(std::string s) {
  for (char& c : s) c = c == '_' ? '-' : c;
  return s;
}

}  // namespace

HandoffFormat parse_handoff_format(const std::string& text) {
  if (text == "env") return HandoffFormat::env;
  if (text == "json") return HandoffFormat::json;
  if (text == "args") return HandoffFormat::args;
  throw UsageError("--format " + text + ": choose env, json or args");
}

std::vector<HandoffValue> handoff_values(const Report& report) {
  require_recommendation_for(report, "recommendation.batch_size");
  const Recommendation& r = *report.recommendation;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.6g", r.learning_rate.value_or(0.0));
  const std::int64_t batch = *r.batch_size;
  std::vector<HandoffValue> values{{"batch_size", std::to_string(batch)},
                                   {"micro_batch_size", std::to_string(r.micro_batch_size.value_or(batch))},
                                   {"accumulation_steps", std::to_string(r.accumulation_steps.value_or(1))}};
  // Data-parallel: the micro-batch is each rank's; the ranks come with it.
  if (r.data_parallel_ranks) values.push_back({"ranks", std::to_string(*r.data_parallel_ranks)});
  values.push_back({"learning_rate", r.learning_rate ? std::string(rate) : std::string()});
  return values;
}

std::string render_handoff(const Report& report, HandoffFormat format) {
  std::vector<HandoffValue> values = handoff_values(report);
  // A report without a learning rate (none recorded) hands over the sizes only.
  if (values.back().value.empty()) values.pop_back();
  std::string out;
  switch (format) {
    case HandoffFormat::env:
      for (const auto& v : values) out += "BATCHTUNE_" + upper(v.name) + "=" + v.value + "\n";
      return out;
    case HandoffFormat::json: {
      nlohmann::ordered_json j;
      for (const auto& v : values) j[v.name] = nlohmann::json::parse(v.value);
      return j.dump() + "\n";
    }
    case HandoffFormat::args:
      for (const auto& v : values) out += (out.empty() ? "--" : " --") + dashed(v.name) + " " + v.value;
      return out + "\n";
  }
  return out;
}

}  // namespace batchtune
