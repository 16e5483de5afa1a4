// The batchtune executable: everything lives in the libraries; see tuner/cli.hpp.
#include <iostream>
#include <string>
#include <vector>

#include "tuner/cli/cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return batchtune::run_cli(args, batchtune::Io{std::cout, std::cerr});
}
