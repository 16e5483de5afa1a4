// Assembles the report file: schema_version first, then tool, context
// (machine, date, command line), workload, probe, sweep, recommendation.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "reports/model/probe_report.hpp"
#include "reports/model/recommendation.hpp"
#include "reports/model/schema_version.hpp"
#include "reports/model/sweep_report.hpp"
#include "reports/model/whole_run.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {

// The command line this process was started with (set by run_cli).
const std::string& invoked_command_line();
void set_invoked_command_line(const std::string& line);

nlohmann::ordered_json build_report(const Workload& workload, const ProbeResult* probe, const SweepResult* sweep,
                                    const Recommendation* recommendation = nullptr,
                                    const WholeRun* whole_run = nullptr);

}  // namespace batchtune
