#include "reports/machine_info.hpp"

#include <ostream>

#include "reports/units.hpp"

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
  row("cuda", std::string(m.cuda_built ? "built in" : "not built in") + ", " +
                  (m.cuda_available ? "available" : "not available"));
  for (const auto& g : m.gpus) {
    row(("gpu " + std::to_string(g.index)).c_str(),
        g.name + ", " + format_bytes(g.total_memory_bytes) + ", compute capability " +
            g.compute_capability);
  }
  row("build", m.build_type + ", " + m.compiler);
}

}  // namespace batchtune
