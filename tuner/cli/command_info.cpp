// `batchtune info [--json]`: the machine fingerprint that every report carries.
#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>

#include "reports/util/build_info.hpp"
#include "reports/model/machine_info.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/workload/machine_probe.hpp"

namespace batchtune {
namespace {

struct InfoOptions {
  bool json = false;
};

void run_info(const InfoOptions& options, Io io) {
  const MachineInfo machine = probe_machine();
  if (options.json) {
    const BuildInfo& b = build_info();
    nlohmann::json j{{"tool", {{"name", "batchtune"}, {"version", b.version}, {"commit", b.git_commit}}},
                     {"machine", machine}};
    io.out << j.dump(2) << '\n';
  } else {
    render_machine_text(io.out, machine);
  }
}

}  // namespace

void setup_info(CLI::App& app, Io io) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand(
      "info", "Print this machine's fingerprint: host, OS, CPU, memory, LibTorch, GPUs");
  sub->add_flag("--json", options->json, "Print JSON instead of a table");
  sub->callback([options, io] { run_info(*options, io); });
}

}  // namespace batchtune
