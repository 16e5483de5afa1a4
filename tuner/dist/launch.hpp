// Where this process stands in a data-parallel launch, read from the
// variables the launchers set: torchrun (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or srun (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE or SLURM_STEP_TASKS_PER_NODE,
// with MASTER_ADDR and MASTER_PORT exported by the job script). Torch-free:
// a launch is checked before LibTorch loads anything.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace batchtune::dist {

struct LaunchInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;  // processes on this machine (they share its CPU memory)
  std::string master_addr;
  int master_port = 0;
  std::string launcher;      // "torchrun" or "slurm"
};

using Environment = std::function<const char*(const char*)>;

// None when no launcher set a world of more than one process (a plain run,
// or a world of one, unless `world_of_one`: then a launch of one rank is
// one too, to exercise a backend on one device). Throws UsageError naming the variable and the fix when
// the variables are partial (RANK without WORLD_SIZE, no MASTER_ADDR),
// malformed (not a whole number, a port out of range) or inconsistent
// (RANK not below WORLD_SIZE, LOCAL_RANK not below LOCAL_WORLD_SIZE).
std::optional<LaunchInfo> launch_from_environment(const Environment& env, bool world_of_one = false);
// The same, from this process's environment.
std::optional<LaunchInfo> launch_from_environment(bool world_of_one = false);

}  // namespace batchtune::dist
