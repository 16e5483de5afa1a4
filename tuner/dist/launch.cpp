#include "tuner/dist/launch.hpp"

#include <cstdlib>
#include <limits>

#include "reports/util/error.hpp"

namespace batchtune::dist {
namespace {

std::optional<std::string> get(const Environment& env, const char* name) {
  const char* v = env(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int whole_number(const std::string& text, const char* name, int lowest, const std::string& launcher) {
  long long v = -1;
  bool ok = !text.empty() && text.size() <= 9;
  for (char c : text) ok = ok && c >= '0' && c <= '9';
  if (ok) v = std::stoll(text);
  if (!ok || v < lowest) {
    throw UsageError(std::string(name) + "=" + text + ": expected a whole number of at least " +
                     std::to_string(lowest) + " (set by " + launcher + "; launch with `torchrun --nproc-per-node N "
                     "--no-python batchtune ...` or srun, or unset it for a single-process run)");
  }
  return static_cast<int>(v);
}

// SLURM_NTASKS_PER_NODE / SLURM_STEP_TASKS_PER_NODE look like "4" or "2(x3)"
// or "4,2": this node's count is not always the first, so only a uniform
// value is taken; otherwise 1 (each rank then budgets the machine's memory
// alone, which only matters for CPU probes).
int uniform_tasks_per_node(const std::optional<std::string>& text) {
  if (!text) return 1;
  std::string head = text->substr(0, text->find_first_of("(,"));
  if (text->find(',') != std::string::npos) return 1;
  for (char c : head) {
    if (c < '0' || c > '9') return 1;
  }
  return head.empty() || head.size() > 6 ? 1 : std::max(1, std::stoi(head));
}

}  // namespace

std::optional<LaunchInfo> launch_from_environment(const Environment& env, bool world_of_one) {
  LaunchInfo l;
  const auto world = get(env, "WORLD_SIZE");
  const auto rank = get(env, "RANK");
  const auto slurm_world = get(env, "SLURM_NTASKS");
  const auto slurm_rank = get(env, "SLURM_PROCID");
  if (world || rank) {
    l.launcher = "torchrun";
    if (!world || !rank) {
      throw UsageError(std::string(world ? "WORLD_SIZE" : "RANK") + " is set but " + (world ? "RANK" : "WORLD_SIZE") +
                       " is not: a data-parallel launch needs both (torchrun sets them); unset it for a "
                       "single-process run");
    }
    l.world_size = whole_number(*world, "WORLD_SIZE", 1, l.launcher);
    l.rank = whole_number(*rank, "RANK", 0, l.launcher);
    if (const auto lr = get(env, "LOCAL_RANK")) l.local_rank = whole_number(*lr, "LOCAL_RANK", 0, l.launcher);
    if (const auto lw = get(env, "LOCAL_WORLD_SIZE")) {
      l.local_world_size = whole_number(*lw, "LOCAL_WORLD_SIZE", 1, l.launcher);
    } else {
      l.local_world_size = l.world_size;  // torchrun always sets it; without it assume one machine
    }
  } else if (slurm_world && slurm_rank && get(env, "SLURM_STEP_ID")) {
    // Inside an srun step (a batch script alone also sets SLURM_NTASKS).
    l.launcher = "slurm";
    l.world_size = whole_number(*slurm_world, "SLURM_NTASKS", 1, l.launcher);
    l.rank = whole_number(*slurm_rank, "SLURM_PROCID", 0, l.launcher);
    if (const auto lr = get(env, "SLURM_LOCALID")) l.local_rank = whole_number(*lr, "SLURM_LOCALID", 0, l.launcher);
    auto per_node = get(env, "SLURM_STEP_TASKS_PER_NODE");
    if (!per_node) per_node = get(env, "SLURM_NTASKS_PER_NODE");
    l.local_world_size = std::max(l.local_rank + 1, uniform_tasks_per_node(per_node));
  } else {
    return std::nullopt;
  }
  if (l.rank >= l.world_size) {
    throw UsageError("RANK " + std::to_string(l.rank) + " is not below WORLD_SIZE " + std::to_string(l.world_size) +
                     " (" + l.launcher + "'s variables disagree); ranks run from 0 to WORLD_SIZE - 1");
  }
  if (l.world_size == 1 && !world_of_one) return std::nullopt;  // a world of one is a plain run
  if (l.local_rank >= l.local_world_size) {
    throw UsageError("LOCAL_RANK " + std::to_string(l.local_rank) + " is not below LOCAL_WORLD_SIZE " +
                     std::to_string(l.local_world_size) + " (" + l.launcher + "'s variables disagree)");
  }
  const auto addr = get(env, "MASTER_ADDR");
  const auto port = get(env, "MASTER_PORT");
  if (!addr || !port) {
    throw UsageError(std::string(!addr ? "MASTER_ADDR" : "MASTER_PORT") + " is not set: rank 0's address and a free "
                     "port are needed to meet (torchrun sets both; under srun export MASTER_ADDR=$(scontrol show "
                     "hostnames \"$SLURM_JOB_NODELIST\" | head -n 1) and MASTER_PORT=29500)");
  }
  l.master_addr = *addr;
  l.master_port = whole_number(*port, "MASTER_PORT", 1, l.launcher);
  if (l.master_port > 65535) {
    throw UsageError("MASTER_PORT=" + *port + ": a TCP port is 1 to 65535");
  }
  return l;
}

std::optional<LaunchInfo> launch_from_environment(bool world_of_one) {
  return launch_from_environment([](const char* name) { return std::getenv(name); }, world_of_one);
}

}  // namespace batchtune::dist
