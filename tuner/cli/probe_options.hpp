// The probe options shared by `probe` and `sweep`.
#pragma once

#include <cstdint>
#include <string>

#include "tuner/run/probe_runner.hpp"

namespace CLI {
class App;
}

namespace batchtune {

struct ProbeArgs {
  std::string memory_limit;
  double margin = 0.10;
  std::int64_t max_batch = 1 << 20;
  std::int64_t multiple_of = 1;
  std::string strategy = "model";
  bool isolate = false;
  int steps = 2;
  // Parsed and checked; throws UsageError.
  ProbeSettings to_settings() const;
};

void add_probe_options(CLI::App& app, ProbeArgs& args);

}  // namespace batchtune
