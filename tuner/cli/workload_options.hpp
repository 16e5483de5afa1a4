// The workload options shared by every command that trains (train, probe,
// sweep): model, data, loss, optimizer, device, threads, seed.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "tuner/cli/output_plan.hpp"
#include "tuner/workload/workload.hpp"

namespace CLI {
class App;
class Validator;
}

namespace batchtune {

struct WorkloadArgs {
  WorkloadSpec spec;
  std::string input_shape, target_shape, mlp_hidden, probe_shape;
  // The spec with the shape strings parsed; throws UsageError.
  WorkloadSpec to_spec() const;
};

void add_workload_options(CLI::App& app, WorkloadArgs& args);

// The files the workload reads (a TorchScript --model, --data-file), for
// check_outputs: no output may replace them.
std::vector<NamedPath> model_and_data_inputs(const WorkloadArgs& args);

// A finite number above zero, or at least zero: one line when it is not.
CLI::Validator finite_number(bool zero_allowed,
                              double max = std::numeric_limits<double>::infinity());

// The command-line options that reproduce `spec` (for child processes).
}  // namespace batchtune
