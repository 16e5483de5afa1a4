#include "tuner/cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <algorithm>
#include <exception>
#include <ostream>

#include "reports/util/build_info.hpp"
#include "reports/util/error.hpp"
#include "reports/util/text_util.hpp"
#include "tuner/cli/interrupt.hpp"
#include "tuner/run/report_builder.hpp"
#include "tuner/workload/workload.hpp"

namespace batchtune {
namespace {

std::string version_line() {
  const BuildInfo& b = build_info();
  return "batchtune " + b.version + " (commit " + b.git_commit + ", " + b.build_type + ")";
}

// CLI11 messages are multi-line for some errors; our contract is one line.
std::string one_line(std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return message;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, Io io) {
  CLI::App app{
      "batchtune finds the training batch size that reaches a target loss soonest on this\n"
      "machine: it probes the largest batch that fits in memory, sweeps short training\n"
      "runs at the feasible sizes, and reports a recommendation with its reasons.",
      "batchtune"};
  app.set_version_flag("--version", version_line(), "Print the version and git commit, then exit");
  app.require_subcommand(1);
  app.footer(
      "Run 'batchtune SUBCOMMAND --help' for a subcommand's options.\n"
      "Exit codes: 0 ok, 1 check failed, 2 usage, 3 bad input, 4 device unavailable,\n"
      "5 does not fit, 6 output not writable, 7 interrupted, 8 runtime failure,\n"
      "9 the model failed in a sweep arm (the finished arms are written),\n"
      "10 data-parallel: a rank died or did not answer within --dist-timeout.");

  setup_info(app, io);
  setup_train(app, io);
  setup_probe(app, io);
  setup_sweep(app, io);
  setup_show(app, io);
  setup_report(app, io);
  setup_compare(app, io);
  setup_check(app, io);
  setup_merge(app, io);

  std::string line = "batchtune";
  for (const auto& a : args) line += " " + a;
  set_invoked_command_line(line);

  // CLI11 would call a stray word "a subcommand is required"; name it instead.
  if (!args.empty() && !args.front().empty() && args.front()[0] != '-') {
    bool known = false;
    std::string names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == args.front();
      if (sub->get_name().front() != '_') names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      io.err << "batchtune: error: unknown subcommand '" << args.front()
             << "'; choose one of: " << names << " (run 'batchtune --help' for usage)\n";
      return to_int(ExitCode::usage);
    }
  }

  // Ctrl-C, SIGTERM and SIGHUP end every command with exit 7 and never half
  // a file: long work stops at its next step and writes what it measured,
  // and the watchdog ends anything that does not stop in time.
  InterruptGuard interrupt_guard;
  // CLI11 parses the reversed list (last argument first).
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
    // A signal after the work's last check (during the final write): the
    // outputs are complete, but the command still ends as interrupted.
    if (InterruptGuard::flag().load()) {
      io.err << "batchtune: error: interrupted by " << InterruptGuard::signal_name()
             << " as the command finished; what it wrote is complete\n";
      return to_int(ExitCode::interrupted);
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, io.out, io.err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, io.out, io.err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, io.out, io.err);
  } catch (const CLI::ParseError& e) {
    io.err << "batchtune: error: " << one_line(e.what())
           << " (run 'batchtune --help' for usage)\n";
    return to_int(ExitCode::usage);
  } catch (const Error& e) {
    io.err << "batchtune: error: " << one_line(e.what()) << '\n';
    return to_int(e.code());
  } catch (const std::bad_alloc&) {
    io.err << "batchtune: error: out of memory outside the memory probe (the data or the model is too large "
              "for this machine); use smaller --input-shape, --mlp-hidden or synthetic sizes\n";
    return to_int(ExitCode::runtime_failure);
  } catch (const std::exception& e) {
    io.err << "batchtune: error: " << one_line(describe_model_error(e)) << '\n';
    return to_int(ExitCode::runtime_failure);
  }
  return to_int(ExitCode::ok);
}

}  // namespace batchtune
