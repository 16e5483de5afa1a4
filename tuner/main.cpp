// The batchtune executable: everything lives in the libraries; see tuner/cli.hpp.
#include <iostream>
#include <string>
#include <vector>

#include <cstdlib>

#include "tuner/cli/cli.hpp"
#include "tuner/dist/data_parallel.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const int code = batchtune::run_cli(args, batchtune::Io{std::cout, std::cerr});
  if (batchtune::dist::left_threads_behind()) {
    // A thread still waits on a handshake that never came: end here.
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);
  }
  return code;
}
