#include "tuner/cli/probe_options.hpp"

#include <CLI/CLI.hpp>

#include "reports/util/error.hpp"
#include "reports/util/json_util.hpp"
#include "reports/model/probe_report.hpp"
#include "tuner/cli/option_text.hpp"

namespace batchtune {

ProbeSettings ProbeArgs::to_settings() const {
  ProbeSettings s;
  if (!memory_limit.empty()) s.memory_limit_bytes = parse_size(memory_limit, "--memory-limit");
  if (multiple_of > max_batch) {
    throw UsageError("--multiple-of " + std::to_string(multiple_of) + " is above --max-batch " +
                     std::to_string(max_batch));
  }
  s.search.strategy = parse_probe_strategy(strategy).value();  // --strategy's IsMember checked the word
  s.search.margin = margin;
  s.search.max_batch = max_batch;
  s.search.multiple_of = multiple_of;
  s.isolate = isolate;
  s.steps = steps;
  return s;
}

void add_probe_options(CLI::App& app, ProbeArgs& o) {
  const char* group = "Probe";
  app.add_option("--memory-limit", o.memory_limit,
                 "Memory to fit in, e.g. 512MiB, 2GiB, 1.5GB. CPU default: the memory this process may use "
                 "(MemAvailable, within a cgroup limit); "
                 "CUDA default: free memory, and a limit caps the caching allocator")
      ->group(group);
  app.add_option("--margin", o.margin, "Share of memory held back for fragmentation and variable inputs")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9))->group(group);
  app.add_option("--max-batch", o.max_batch, "Largest batch to try (the training set, and in a sweep a samples budget, cap it too)")
      ->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40))->group(group);
  app.add_option("--multiple-of", o.multiple_of, "Only batch sizes that are multiples of N")
      ->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30))->group(group);
  app.add_option("--strategy", o.strategy,
                 "model (memory at small sizes, the edge predicted from bytes per sample, verified, then bisected), or the peers' "
                 "binsearch and power (PyTorch Lightning)")
      ->capture_default_str()->check(CLI::IsMember(json_util::enum_words<ProbeStrategy>()))->group(group);
  app.add_flag("--isolate", o.isolate, "Run each trial in a fresh batchtune process; a crash is that trial's outcome")
      ->group(group);
  app.add_option("--trial-steps", o.steps, "Training steps per trial (at least 2: optimizer state must exist)")
      ->capture_default_str()->check(CLI::Range(2, 100))->group(group);
}

}  // namespace batchtune
