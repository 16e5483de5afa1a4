#include "tuner/workload/machine_probe.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <algorithm>
#include <fstream>
#include <utility>
#include <sstream>
#include <string>

#include "probes/cuda_adapter.hpp"
#include "reports/util/build_info.hpp"

namespace batchtune {
namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\"");
  const auto last = s.find_last_not_of(" \t\"\n");
  if (first == std::string::npos) return "";
  return s.substr(first, last - first + 1);
}

// The value after `key` and a separator in the first matching line of a file.
std::string read_field(const char* path, const std::string& key, char separator) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const auto pos = line.find(separator, key.size());
    if (pos == std::string::npos) continue;
    if (trim(line.substr(key.size(), pos - key.size())).empty()) {
      return trim(line.substr(pos + 1));
    }
  }
  return "";
}

std::uint64_t meminfo_bytes(const std::string& key) {
  const std::string value = read_field("/proc/meminfo", key, ':');  // "24576 kB"
  if (value.empty()) return 0;
  return std::stoull(value) * 1024ULL;
}

std::optional<std::uint64_t> cgroup_memory_limit() {
  // cgroup v2 first, then v1; "max" or an absurd v1 value means no limit.
  for (const char* path : {"/sys/fs/cgroup/memory.max",
                           "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string value;
    if (!(in >> value) || value == "max") continue;
    try {
      const std::uint64_t bytes = std::stoull(value);
      if (bytes < (1ULL << 60)) return bytes;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

// The cgroup's usage less its inactive page cache, which the kernel reclaims
// before it would OOM (a container that just read its dataset is not full).
std::optional<std::uint64_t> cgroup_memory_usage() {
  const std::pair<const char*, const char*> sources[] = {
      {"/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat"},
      {"/sys/fs/cgroup/memory/memory.usage_in_bytes", "/sys/fs/cgroup/memory/memory.stat"}};
  for (const auto& [usage_path, stat_path] : sources) {
    std::ifstream in(usage_path);
    std::uint64_t usage = 0;
    if (!(in >> usage)) continue;
    std::ifstream stat(stat_path);
    std::string key;
    std::uint64_t value = 0;
    while (stat >> key >> value) {
      if (key == "inactive_file" || key == "total_inactive_file") {
        usage -= std::min(usage, value);
        break;
      }
    }
    return usage;
  }
  return std::nullopt;
}

}  // namespace

std::uint64_t usable_memory_bytes(std::string* source) {
  std::uint64_t available = meminfo_bytes("MemAvailable");
  if (available == 0) available = meminfo_bytes("MemTotal");  // kernels before 3.14
  std::uint64_t usable = available;
  std::string how = "available memory (MemAvailable " + format_bytes(available) + ")";
  if (const auto limit = cgroup_memory_limit()) {
    const std::uint64_t used = cgroup_memory_usage().value_or(0);
    const std::uint64_t room = *limit > used ? *limit - used : 0;
    if (room < usable) {
      usable = room;
      how = "the cgroup's memory limit " + format_bytes(*limit) + " less its usage " + format_bytes(used) +
            " (below MemAvailable " + format_bytes(available) + ")";
    }
  }
  if (source) *source = how;
  return usable;
}

int usable_core_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                     : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
}

MachineInfo probe_machine() {
  MachineInfo m;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) m.host_name = host;

  m.os = read_field("/etc/os-release", "PRETTY_NAME", '=');
  struct utsname uts {};
  if (uname(&uts) == 0) {
    m.kernel = std::string(uts.sysname) + " " + uts.release + " " + uts.machine;
  }
  m.cpu_model = read_field("/proc/cpuinfo", "model name", ':');
  if (m.cpu_model.empty()) m.cpu_model = read_field("/proc/cpuinfo", "Model", ':');

  m.logical_cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m.usable_cores = usable_core_count();
  m.torch_threads = at::get_num_threads();
  m.torch_interop_threads = at::get_num_interop_threads();

  m.ram_total_bytes = meminfo_bytes("MemTotal");
  m.ram_available_bytes = meminfo_bytes("MemAvailable");
  m.cgroup_memory_limit_bytes = cgroup_memory_limit();

  m.libtorch_version = TORCH_VERSION;
  m.cuda_built = probes::cuda_built();
  const int gpus = probes::cuda_device_count();
  m.cuda_available = gpus > 0;
  for (int i = 0; i < gpus; ++i) {
    const auto p = probes::cuda_device_properties(i);
    m.gpus.push_back(GpuInfo{i, p.name, p.total_memory_bytes,
                             std::to_string(p.major) + "." + std::to_string(p.minor)});
  }

  const BuildInfo& build = build_info();
  m.build_type = build.build_type;
  m.compiler = build.compiler;
  return m;
}

}  // namespace batchtune
