// Runs the command line in-process, as main() would, and keeps what it printed.
#pragma once

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "tuner/cli/cli.hpp"

namespace batchtune::test {

struct CliRun {
  int code = 0;
  std::string out;
  std::string err;
};

inline CliRun run_cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = batchtune::run_cli(args, batchtune::Io{out, err});
  return {code, out.str(), err.str()};
}

inline int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace batchtune::test
