// The machine fingerprint every report carries (`batchtune info`), and the
// part of a report that `compare` puts side by side. Plain data: collecting it
// needs LibTorch and lives in tuner/machine_probe.*.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/util/json_util.hpp"

// Not needed here: kept for the callers in tuner/ and probes/ that include
// this header for format_bytes, until they include reports/util/units.hpp.
#include "reports/util/units.hpp"

namespace batchtune {

struct GpuInfo {
  int index = 0;
  std::string name;
  std::uint64_t total_memory_bytes = 0;
  std::string compute_capability;  // "9.0"
};

struct MachineInfo {
  std::string host_name;
  std::string os;              // PRETTY_NAME from /etc/os-release
  std::string kernel;          // uname: release and machine
  std::string cpu_model;
  int logical_cores = 0;       // online logical CPUs
  int usable_cores = 0;        // those this process may run on (affinity mask)
  int torch_threads = 0;       // at::get_num_threads()
  int torch_interop_threads = 0;
  std::uint64_t ram_total_bytes = 0;
  std::uint64_t ram_available_bytes = 0;
  std::optional<std::uint64_t> cgroup_memory_limit_bytes;  // when a cgroup caps us
  std::string libtorch_version;
  bool cuda_built = false;     // this binary was built against a CUDA LibTorch
  bool cuda_available = false; // and a CUDA device answers now
  std::vector<GpuInfo> gpus;
  std::string build_type;
  std::string compiler;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(GpuInfo, index, name, total_memory_bytes, compute_capability)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MachineInfo, host_name, os, kernel, cpu_model, logical_cores, usable_cores,
                                   torch_threads, torch_interop_threads, ram_total_bytes, ram_available_bytes,
                                   cgroup_memory_limit_bytes, libtorch_version, cuda_built, cuda_available, gpus,
                                   build_type, compiler)

// A short human label: the GPU model if any, else the CPU model, with the host.
std::string machine_label(const MachineInfo& m);

void render_machine_text(std::ostream& out, const MachineInfo& m);

// CPU time so far, from /proc (Linux): every CPU's busy time and this
// process's own (user + system), in seconds; none where /proc is unreadable.
// Two readings apart give the CPU other processes used in between.
struct CpuTimes {
  double busy_seconds = 0;
  double own_seconds = 0;
};
std::optional<CpuTimes> read_cpu_times();

// Other processes' CPU use, in cores, from which a machine counts as loaded:
// half a core is a build or a browser busy beside a tune. (Read host-wide
// from /proc/stat, steal included: in a container other tenants count.)
constexpr double kLoadedMachineCores = 0.5;

// Other processes' CPU use between two readings `wall_seconds` apart, in
// cores; none where either reading failed or no time passed.
std::optional<double> other_cpu_cores(const std::optional<CpuTimes>& before, const std::optional<CpuTimes>& after,
                                      double wall_seconds);

}  // namespace batchtune
