// batchtune's command line: one CLI11 app, one file per subcommand
// (tuner/command_*.cpp: setup_x(app, io) registers it, run_x(options) runs it).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace batchtune {

// Where a command writes: stdout for results, stderr for progress and errors.
struct Io {
  std::ostream& out;
  std::ostream& err;
};

// Parses args (without the program name), runs the chosen subcommand and
// returns the exit code (README.md, "Exit codes"). Never throws.
int run_cli(const std::vector<std::string>& args, Io io);

void setup_info(CLI::App& app, Io io);
void setup_train(CLI::App& app, Io io);
void setup_probe(CLI::App& app, Io io);
void setup_sweep(CLI::App& app, Io io);
void setup_show(CLI::App& app, Io io);
void setup_report(CLI::App& app, Io io);
void setup_compare(CLI::App& app, Io io);
void setup_check(CLI::App& app, Io io);
void setup_merge(CLI::App& app, Io io);

struct RenderTargets;
// --markdown F and --html F, shared by sweep and report.
void add_render_options(CLI::App& sub, RenderTargets& targets);

}  // namespace batchtune
