#include "tuner/run/probe_runner.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

#include "probes/oom.hpp"
#include "reports/util/error.hpp"
#include "reports/util/units.hpp"
#include "reports/util/text_util.hpp"
#include "reports/model/machine_info.hpp"
#include "tuner/workload/machine_probe.hpp"

extern char** environ;

namespace batchtune {

namespace {

std::string join_extents(const std::vector<double>& v, const char* format) {
  std::string s;
  char part[32];
  for (double x : v) {
    std::snprintf(part, sizeof part, format, x);
    s += (s.empty() ? "" : "x") + std::string(part);
  }
  return s;
}

// What the probe's trials trained on, where that is not simply the data:
// variable-size samples or --probe-shape.
std::string worst_case_text(const Workload& workload) {
  const Dataset& d = workload.data();
  const bool named = !workload.spec().probe_shape.empty();
  if (d.max_extent.empty() && !named) return {};
  const std::string shape = shape_to_string(workload.probe_shape());
  std::vector<double> largest(d.max_extent.begin(), d.max_extent.end());
  const std::string data_largest = join_extents(largest, "%.0f"), data_mean = join_extents(d.mean_extent, "%.1f");
  std::string text;
  if (named) {
    text = "every trial trained at --probe-shape " + shape + " (samples cut or zero-padded to it; the data's " +
           (d.max_extent.empty() ? "samples are " + shape_to_string(d.sample_shape)
                                 : "largest " + d.extent_name + " is " + data_largest + ", mean " + data_mean) +
           ")";
  } else {
    text = "every trial trained on the largest samples at the data's largest " + d.extent_name + " " + data_largest +
           " (input " + shape + "; the data's " + d.extent_name + "s average " + data_mean + ")";
  }
  if (!d.max_extent.empty()) {
    text += workload.spec().batching == "bucketed"
                ? "; the sweep trains on the real mix, bucketed by size, each batch padded to its own largest"
                : "; the sweep trains on the real mix, each batch padded to its own largest";
  }
  return text;
}

}  // namespace
namespace {

struct ChildResult {
  int status = 0;
  std::string out, err;
};

// Runs argv as a child process (posix_spawn: a fresh exec, not a fork of this
// process and its thread pools), stdout through a pipe, stderr to a file.
ChildResult run_child(const std::vector<std::string>& argv) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) throw RuntimeFailure("cannot create a pipe for an isolated trial");
  char err_path[] = "/tmp/batchtune-trial-XXXXXX";
  const int err_fd = mkstemp(err_path);
  if (err_fd < 0) throw RuntimeFailure("cannot create a temporary file for an isolated trial");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_fd);
  if (rc != 0) {
    close(out_pipe[0]);
    unlink(err_path);
    throw RuntimeFailure("cannot start " + argv[0] + " for an isolated trial: " + std::strerror(rc));
  }
  ChildResult result;
  char buf[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) result.out.append(buf, static_cast<std::size_t>(n));
  close(out_pipe[0]);
  waitpid(pid, &result.status, 0);
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  unlink(err_path);
  return result;
}

ProbeTrial run_isolated_trial(const Workload& workload, const ProbeSettings& s, std::uint64_t capacity,
                              std::int64_t batch) {
  std::vector<std::string> argv{s.executable.empty() ? "/proc/self/exe" : s.executable, "_trial"};
  for (auto& a : workload_to_args(workload.spec())) argv.push_back(a);
  argv.insert(argv.end(), {"--batch-size", std::to_string(batch), "--steps", std::to_string(s.steps)});
  if (s.memory_limit_bytes || workload.device().is_cpu()) {
    argv.insert(argv.end(), {"--memory-limit", std::to_string(capacity)});
  }
  const auto start = std::chrono::steady_clock::now();
  const ChildResult child = run_child(argv);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0) {
    try {
      return nlohmann::json::parse(child.out).get<ProbeTrial>();
    } catch (const std::exception&) {
      // fall through: a child that exits 0 without a trial is a crash too
    }
  }
  ProbeTrial t;
  t.batch_size = batch;
  t.outcome = TrialOutcome::crashed;
  t.seconds = seconds;
  if (WIFSIGNALED(child.status)) {
    t.message = std::string("killed by signal ") + std::to_string(WTERMSIG(child.status)) + " (" +
                strsignal(WTERMSIG(child.status)) + ")";
  } else {
    t.message = "exited with status " + std::to_string(WEXITSTATUS(child.status)) + ": " + first_line(child.err);
  }
  return t;
}

}  // namespace

ProbeTrial run_training_trial(const Workload& workload, probes::MemoryMeter& meter, std::int64_t batch_size,
                              int steps) {
  ProbeTrial t;
  t.batch_size = batch_size;
  meter.begin_trial();
  const auto start = std::chrono::steady_clock::now();
  try {
    auto model = workload.make_model();
    auto optimizer = workload.make_optimizer(*model, workload.optimizer().learning_rate);
    BatchSampler sampler = workload.make_sampler();
    LossScaler scaler;
    for (int step = 0; step < steps; ++step) {
      auto [x, y] = workload.probe_batch(sampler, batch_size);
      train_step(*model, *optimizer, workload, x, y, &scaler).item<float>();  // waits for the device
    }
    t.outcome = TrialOutcome::fits;
  } catch (const std::exception& e) {
    t.outcome = probes::is_out_of_memory(e) ? TrialOutcome::out_of_memory : TrialOutcome::error;
    t.message = describe_model_error(e);
  }
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.peak_bytes = meter.peak_bytes();
  if (t.outcome != TrialOutcome::fits) drain_autograd(workload.device());
  return t;
}

std::unique_ptr<probes::MemoryMeter> make_meter(const Workload& workload, std::optional<std::uint64_t> limit) {
  if (workload.device().is_cuda()) return probes::make_cuda_meter(workload.device().index(), limit);
  if (limit) return probes::make_cpu_budget_meter(*limit, "--memory-limit " + format_bytes(*limit));
  std::string source;
  const std::uint64_t usable = usable_memory_bytes(&source);
  return probes::make_cpu_budget_meter(usable, "default on CPU: " + source + "; --memory-limit sets another");
}

namespace {
// What the search result holds, from the trials alone: for a probe cut short.
ProbeResult probe_so_far(const std::vector<ProbeTrial>& trials, const probes::SearchOptions& search,
                         const probes::MemoryMeter& meter, const Workload& workload) {
  ProbeResult r;
  r.strategy = search.strategy;
  r.capacity_bytes = search.capacity_bytes;
  r.multiple_of = search.multiple_of;
  r.max_batch = search.max_batch;
  r.margin = search.margin;
  r.trials = trials;
  for (const auto& t : trials) {
    if (t.outcome == TrialOutcome::fits) r.largest_fitting_batch = std::max(r.largest_fitting_batch, t.batch_size);
  }
  for (const auto& t : trials) {
    if (t.outcome != TrialOutcome::fits && t.batch_size > r.largest_fitting_batch &&
        (!r.first_failing_batch || t.batch_size < *r.first_failing_batch)) {
      r.first_failing_batch = t.batch_size;
    }
  }
  r.safe_max_batch = r.largest_fitting_batch;
  r.memory_model = fit_memory_model(trials);
  r.meter = meter.kind();
  r.device = workload.device().str();
  r.capacity_source = meter.capacity_source();
  return r;
}
}  // namespace

ProbeResult run_probe(const Workload& workload, const ProbeSettings& settings, std::ostream& progress) {
  if (settings.isolate && !workload.has_spec()) {
    throw UsageError("isolated trials rebuild the workload from its command-line options in a child process; "
                     "a program's own model and data cannot be, so run the probe in-process (isolate off)");
  }
  auto meter = make_meter(workload, settings.memory_limit_bytes);
  probes::SearchOptions search = settings.search;
  search.capacity_bytes = meter->capacity_bytes();
  int index = 0;
  std::vector<ProbeTrial> trials;
  const auto start = std::chrono::steady_clock::now();
  const probes::TrialRunner runner = [&](std::int64_t batch) {
    if (settings.stop && settings.stop->load()) {
      ProbeResult partial = probe_so_far(trials, search, *meter, workload);
      partial.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      throw ProbeInterrupted(std::move(partial));
    }
    ProbeTrial t = settings.isolate ? run_isolated_trial(workload, settings, search.capacity_bytes, batch)
                                    : run_training_trial(workload, *meter, batch, settings.steps);
    // An isolated child gets the terminal's Ctrl-C too and dies of it: that
    // is the interruption, not a crash at this size.
    if (settings.stop && settings.stop->load() && t.outcome == TrialOutcome::crashed) {
      ProbeResult partial = probe_so_far(trials, search, *meter, workload);
      partial.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      throw ProbeInterrupted(std::move(partial));
    }
    const char* outcome = t.outcome == TrialOutcome::fits ? "fits"
                          : t.outcome == TrialOutcome::out_of_memory ? "out of memory"
                          : t.outcome == TrialOutcome::error ? "error" : "crashed";
    progress << "probe: trial " << ++index << ": batch " << batch << " " << outcome << ", peak "
             << format_bytes(t.peak_bytes) << ", " << t.seconds << " s"
             << (t.outcome == TrialOutcome::crashed || t.outcome == TrialOutcome::error ? " (" + t.message + ")" : "")
             << '\n'
             << std::flush;
    trials.push_back(t);
    if (settings.on_trial) {
      ProbeResult partial = probe_so_far(trials, search, *meter, workload);
      partial.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      settings.on_trial(partial);
    }
    return t;
  };
  ProbeResult result;
  try {
    result = probes::search_largest_batch(runner, search);
  } catch (const probes::NothingFits& e) {
    throw DoesNotFitError(std::string(e.what()) + "; raise --memory-limit or choose a smaller model");
  } catch (const probes::TrialError& e) {
    throw InputError("--model " + workload.spec().model + ": training " + e.what() +
                     " (not an out-of-memory error; the probe stopped)");
  }
  result.meter = meter->kind();
  result.device = workload.device().str();
  result.capacity_source = meter->capacity_source();
  result.isolated = settings.isolate;
  result.worst_case = worst_case_text(workload);
  return result;
}

}  // namespace batchtune
