#include "reports/model/machine_info.hpp"

#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>

#include <unistd.h>

#include "reports/util/units.hpp"

namespace batchtune {

std::string machine_label(const MachineInfo& m) {
  const std::string device = m.gpus.empty() ? m.cpu_model : m.gpus.front().name;
  return device + " @ " + m.host_name;
}

void render_machine_text(std::ostream& out, const MachineInfo& m) {
  auto row = [&out](const char* key, const std::string& value) {
    out << "  " << key;
    for (std::size_t i = std::char_traits<char>::length(key); i < 22; ++i) out << ' ';
    out << value << '\n';
  };
  out << "machine\n";
  row("host", m.host_name);
  row("os", m.os);
  row("kernel", m.kernel);
  row("cpu", m.cpu_model);
  row("logical cores", std::to_string(m.logical_cores) + " (" +
                           std::to_string(m.usable_cores) + " usable by this process)");
  row("torch threads", std::to_string(m.torch_threads) + " intra-op, " +
                           std::to_string(m.torch_interop_threads) + " inter-op");
  row("ram", format_bytes(m.ram_total_bytes) + " total, " +
                 format_bytes(m.ram_available_bytes) + " available");
  row("cgroup memory limit",
      m.cgroup_memory_limit_bytes ? format_bytes(*m.cgroup_memory_limit_bytes) : "none");
  row("libtorch", m.libtorch_version);
  row("cuda", !m.cuda_built      ? std::string("not built in (a CPU LibTorch)")
              : m.cuda_available ? "built in, " + std::to_string(m.gpus.size()) + " device(s) visible"
                                 : std::string("built in, no device visible (no GPU, or no driver)"));
  for (const auto& g : m.gpus) {
    row(("gpu " + std::to_string(g.index)).c_str(),
        g.name + ", " + format_bytes(g.total_memory_bytes) + ", compute capability " +
            g.compute_capability);
  }
  row("build", m.build_type + ", " + m.compiler);
}

std::optional<CpuTimes> read_cpu_times() {
  const long ticks = sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  // user nice system idle iowait irq softirq steal (guest time is inside user)
  unsigned long long v[8] = {};
  if (!(stat >> cpu) || cpu != "cpu") return std::nullopt;
  for (auto& x : v) {
    if (!(stat >> x)) return std::nullopt;
  }
  std::ifstream self("/proc/self/stat");
  std::string line;
  if (!std::getline(self, line)) return std::nullopt;
  // Fields after the command name (which may hold spaces, inside parentheses):
  // state is field 3, utime 14, stime 15.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    if (!(rest >> field)) return std::nullopt;
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  CpuTimes t;
  t.busy_seconds = double(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / double(ticks);
  t.own_seconds = double(utime + stime) / double(ticks);
  return t;
}

std::optional<double> other_cpu_cores(const std::optional<CpuTimes>& before, const std::optional<CpuTimes>& after,
                                      double wall_seconds) {
  if (!before || !after || !(wall_seconds > 0)) return std::nullopt;
  const double others = (after->busy_seconds - before->busy_seconds) - (after->own_seconds - before->own_seconds);
  return std::max(0.0, others / wall_seconds);
}

}  // namespace batchtune
