#include "tuner/run/report_builder.hpp"

#include <ctime>

#include "reports/util/build_info.hpp"
#include "tuner/workload/machine_probe.hpp"

namespace batchtune {
namespace {
std::string& command_line_storage() {
  static std::string line;
  return line;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

const std::string& invoked_command_line() { return command_line_storage(); }
void set_invoked_command_line(const std::string& line) { command_line_storage() = line; }

nlohmann::ordered_json build_report(const Workload& workload, const ProbeResult* probe, const SweepResult* sweep,
                                    const Recommendation* recommendation, const WholeRun* whole_run) {
  const BuildInfo& b = build_info();
  nlohmann::ordered_json report;
  report["schema_version"] = kReportSchemaVersion;
  report["tool"] = {{"name", "batchtune"}, {"version", b.version}, {"commit", b.git_commit}};
  report["context"] = {{"machine", nlohmann::json(probe_machine())},
                       {"date", utc_now()},
                       {"command_line", invoked_command_line()}};
  report["workload"] = nlohmann::json(workload.info());
  report["probe"] = probe ? nlohmann::json(*probe) : nlohmann::json(nullptr);
  report["sweep"] = sweep ? nlohmann::json(*sweep) : nlohmann::json(nullptr);
  report["recommendation"] = recommendation ? nlohmann::json(*recommendation) : nlohmann::json(nullptr);
  // Only a whole-run tune (sweep --epochs/--train-samples) has this section.
  if (whole_run) report["whole_run"] = nlohmann::json(*whole_run);
  return report;
}

}  // namespace batchtune
