// `batchtune probe`: the largest batch that fits in device memory, in few
// trials. `batchtune _trial` (hidden) runs one trial for `probe --isolate`.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <ostream>

#include "reports/util/atomic_file.hpp"
#include "reports/util/error.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/interrupt.hpp"
#include "tuner/cli/output_plan.hpp"
#include "tuner/run/report_builder.hpp"
#include "tuner/cli/probe_options.hpp"
#include "tuner/run/probe_runner.hpp"
#include "tuner/cli/workload_options.hpp"
#include "tuner/cli/option_text.hpp"

namespace batchtune {
namespace {

struct ProbeOptions {
  WorkloadArgs workload;
  ProbeArgs probe;
  std::string output;
};

void run_probe_command(const ProbeOptions& o, Io io) {
  check_outputs({{"-o", o.output}}, model_and_data_inputs(o.workload));  // before any training
  ProbeSettings s = o.probe.to_settings();
  const Workload workload = Workload::create(o.workload.to_spec());
  // A batch larger than the training set is never drawn.
  const bool train_caps = workload.data().train.size() < s.search.max_batch;
  s.search.max_batch = std::max(s.search.multiple_of, std::min(s.search.max_batch, workload.data().train.size()));
  s.stop = &InterruptGuard::flag();
  auto report_of = [&](const ProbeResult& r, bool incomplete) {
    nlohmann::ordered_json report = build_report(workload, &r, nullptr);
    if (incomplete) {
      report["probe"]["incomplete"] = true;
      report["probe"]["incomplete_reason"] = "interrupted by " + InterruptGuard::signal_name() + " after " +
                                             std::to_string(r.trials.size()) + " trials";
    }
    return report.dump(2) + "\n";
  };
  if (!o.output.empty()) {
    s.on_trial = [&](const ProbeResult& partial) { InterruptGuard::checkpoint(o.output, report_of(partial, true), "the probe"); };
  }
  ProbeResult result;
  try {
    result = run_probe(workload, s, io.err);
  } catch (const ProbeInterrupted& e) {
    if (!o.output.empty()) {
      InterruptGuard::FinalWrite lock;
      write_report_or_rescue(o.output, report_of(e.partial, true));
    }
    throw Error(ExitCode::interrupted, "interrupted by " + InterruptGuard::signal_name() + " during the probe after " +
                                           std::to_string(e.partial.trials.size()) + " trials" +
                                           (o.output.empty() ? "" : "; " + o.output + " holds them, marked incomplete"));
  }
  if (result.capped) {
    result.cap_source = train_caps ? "the training set (" + std::to_string(workload.data().train.size()) + " samples)"
                                   : "--max-batch";
  }
  render_probe_text(io.out, result);
  if (!o.output.empty()) {
    InterruptGuard::FinalWrite lock;
    write_report_or_rescue(o.output, report_of(result, false));
    io.err << "probe: wrote " << o.output << '\n';
  }
}

struct TrialOptions {
  WorkloadArgs workload;
  std::int64_t batch_size = 1;
  int steps = 2;
  std::string memory_limit;
};

void run_trial_command(const TrialOptions& o, Io io) {
  const Workload workload = Workload::create(o.workload.to_spec());
  std::optional<std::uint64_t> limit;
  if (!o.memory_limit.empty()) limit = parse_size(o.memory_limit, "--memory-limit");
  // Fault injection for tests of --isolate: abort like a corrupted allocator would.
  if (const char* at = std::getenv("BATCHTUNE_FAULT_ABORT_AT_BATCH")) {
    if (o.batch_size >= std::atoll(at)) std::abort();
  }
  auto meter = make_meter(workload, limit);
  const ProbeTrial t = run_training_trial(workload, *meter, o.batch_size, o.steps);
  io.out << nlohmann::json(t).dump() << '\n';
}

}  // namespace

void setup_probe(CLI::App& app, Io io) {
  auto o = std::make_shared<ProbeOptions>();
  CLI::App* sub = app.add_subcommand(
      "probe", "Find the largest batch that fits in device memory (CUDA OOM, or a CPU memory budget)");
  add_workload_options(*sub, o->workload);
  add_probe_options(*sub, o->probe);
  sub->add_option("-o,--output", o->output, "Write the probe as JSON (the report's probe section)")
      ->check(non_empty_path());
  sub->callback([o, io] { run_probe_command(*o, io); });

  auto t = std::make_shared<TrialOptions>();
  CLI::App* trial = app.add_subcommand("_trial", "");  // hidden: one trial for probe --isolate
  trial->group("");
  add_workload_options(*trial, t->workload);
  trial->add_option("--batch-size", t->batch_size)->required();
  trial->add_option("--steps", t->steps);
  trial->add_option("--memory-limit", t->memory_limit);
  trial->callback([t, io] { run_trial_command(*t, io); });
}

}  // namespace batchtune
