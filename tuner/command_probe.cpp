// `batchtune probe`: the largest batch that fits in device memory, in few
// trials. `batchtune _trial` (hidden) runs one trial for `probe --isolate`.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <memory>
#include <ostream>

#include "reports/atomic_file.hpp"
#include "reports/build_info.hpp"
#include "reports/error.hpp"
#include "tuner/cli.hpp"
#include "tuner/machine_probe.hpp"
#include "tuner/probe_runner.hpp"
#include "tuner/workload_options.hpp"

namespace batchtune {
namespace {

struct ProbeOptions {
  WorkloadArgs workload;
  std::string memory_limit;
  double margin = 0.10;
  std::int64_t max_batch = 1 << 20;
  std::int64_t multiple_of = 1;
  std::string strategy = "model";
  bool isolate = false;
  int steps = 2;
  std::string output;
};

void run_probe_command(const ProbeOptions& o, Io io) {
  if (!o.output.empty()) check_writable(o.output);  // before any training
  ProbeSettings s;
  if (!o.memory_limit.empty()) s.memory_limit_bytes = parse_size(o.memory_limit, "--memory-limit");
  if (o.multiple_of > o.max_batch) {
    throw UsageError("--multiple-of " + std::to_string(o.multiple_of) + " is above --max-batch " +
                     std::to_string(o.max_batch));
  }
  s.search.strategy = o.strategy;
  s.search.margin = o.margin;
  s.search.max_batch = o.max_batch;
  s.search.multiple_of = o.multiple_of;
  s.isolate = o.isolate;
  s.steps = o.steps;
  const Workload workload = Workload::create(o.workload.to_spec());
  const ProbeResult result = run_probe(workload, s, io.err);
  render_probe_text(io.out, result);
  if (!o.output.empty()) {
    const BuildInfo& b = build_info();
    // Ordered: schema_version first, then tool, context, workload, probe.
    nlohmann::ordered_json report;
    report["schema_version"] = 1;
    report["tool"] = {{"name", "batchtune"}, {"version", b.version}, {"commit", b.git_commit}};
    report["context"] = {{"machine", nlohmann::json(probe_machine())}};
    report["workload"] = nlohmann::json(workload.info());
    report["probe"] = nlohmann::json(result);
    write_file_atomically(o.output, report.dump(2) + "\n");
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
  const char* group = "Probe";
  sub->add_option("--memory-limit", o->memory_limit,
                  "Memory to fit in, e.g. 512MiB, 2GiB, 1.5GB. CPU default: min(32 MiB, available/8); "
                  "CUDA default: free memory, and a limit caps the caching allocator")
      ->group(group);
  sub->add_option("--margin", o->margin, "Share of memory held back for fragmentation and variable inputs")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9))->group(group);
  sub->add_option("--max-batch", o->max_batch, "Largest batch to try")
      ->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))->group(group);
  sub->add_option("--multiple-of", o->multiple_of, "Only batch sizes that are multiples of N")
      ->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30))->group(group);
  sub->add_option("--strategy", o->strategy,
                  "model (fit memory at small sizes, verify the predicted edge, bisect), or the peers' "
                  "binsearch and power (PyTorch Lightning)")
      ->capture_default_str()->check(CLI::IsMember({"model", "binsearch", "power"}))->group(group);
  sub->add_flag("--isolate", o->isolate, "Run each trial in a fresh batchtune process; a crash is that trial's outcome")
      ->group(group);
  sub->add_option("--trial-steps", o->steps, "Training steps per trial (at least 2: optimizer state must exist)")
      ->capture_default_str()->check(CLI::Range(2, 100))->group(group);
  sub->add_option("-o,--output", o->output, "Write the probe as JSON (the report's probe section)")->group(group);
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
