// What this binary is: version, commit, build type and compiler, fixed at build time.
#pragma once

#include <string>

namespace batchtune {

struct BuildInfo {
  std::string version;
  std::string git_commit;
  std::string build_type;
  std::string compiler;
};

const BuildInfo& build_info();

}  // namespace batchtune
