// Golden-file comparison: the text must equal tests/golden/NAME. Run with
// BATCHTUNE_UPDATE_GOLDEN=1 to (re)write the files, then review the diff.
#pragma once

#include "tests/support/catch.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace batchtune::testing {

inline void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(BATCHTUNE_GOLDEN_DIR) + "/" + name;
  if (std::getenv("BATCHTUNE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
    WARN("rewrote " << path);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  INFO("golden file " << path << " (BATCHTUNE_UPDATE_GOLDEN=1 rewrites it)");
  REQUIRE(in.good());
  std::stringstream expected;
  expected << in.rdbuf();
  // Line by line, so a failure names the first line that differs.
  std::istringstream a(actual), e(expected.str());
  std::string la, le;
  int line = 0;
  while (true) {
    const bool more_a = static_cast<bool>(std::getline(a, la));
    const bool more_e = static_cast<bool>(std::getline(e, le));
    ++line;
    if (!more_a && !more_e) break;
    INFO("line " << line);
    REQUIRE(la == le);
  }
}

}  // namespace batchtune::testing
