// Runs batchtune's three probe strategies (model, and the peers' binsearch and
// power) on the same workloads and CPU budgets in one run, and prints trials,
// seconds and the batch found, with ratios against `model`.
//
//   build/dev/bench/bench_probe_strategies [--quick]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "tuner/run/probe_runner.hpp"
#include "tuner/workload/workload.hpp"

using namespace batchtune;

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  struct Case {
    std::string model, data;
    std::uint64_t budget;
  };
  std::vector<Case> cases{{"cnn", "synthetic", 40ULL << 20},
                          {"gpt", "synthetic", 40ULL << 20},
                          {"resnet", "synthetic", 64ULL << 20},
                          {"mlp", "fashion-mnist", 24ULL << 20}};
  if (quick) cases.resize(2);
  std::printf("%-8s %-14s %8s  %-10s %7s %9s %10s %12s %12s\n", "model", "data", "budget", "strategy", "trials",
              "seconds", "batch", "trials/model", "secs/model");
  for (const Case& c : cases) {
    WorkloadSpec spec;
    spec.model = c.model;
    spec.data = c.data;
    spec.device = "cpu";
    spec.synthetic = {2048, 256};
    const Workload w = Workload::create(spec);
    double model_trials = 0, model_seconds = 0;
    for (const ProbeStrategy strategy : {ProbeStrategy::model, ProbeStrategy::binsearch, ProbeStrategy::power}) {
      ProbeSettings s;
      s.memory_limit_bytes = c.budget;
      s.search.strategy = strategy;
      std::ostringstream progress;
      const ProbeResult r = run_probe(w, s, progress);
      if (strategy == ProbeStrategy::model) {
        model_trials = double(r.trials.size());
        model_seconds = r.total_seconds;
      }
      std::printf("%-8s %-14s %5lluMiB  %-10s %7zu %9.2f %10lld %12.2f %12.2f\n", c.model.c_str(), c.data.c_str(),
                  static_cast<unsigned long long>(c.budget >> 20), to_string(strategy).c_str(), r.trials.size(), r.total_seconds,
                  static_cast<long long>(r.largest_fitting_batch), double(r.trials.size()) / model_trials,
                  r.total_seconds / model_seconds);
      std::fflush(stdout);
    }
  }
  return 0;
}
