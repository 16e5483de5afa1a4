#include "reports/machine_info.hpp"

#include <ostream>

#include "reports/units.hpp"

namespace batchtune {

void to_json(nlohmann::json& j, const GpuInfo& g) {
  j = nlohmann::json{{"index", g.index},
                     {"name", g.name},
                     {"total_memory_bytes", g.total_memory_bytes},
                     {"compute_capability", g.compute_capability}};
}

void from_json(const nlohmann::json& j, GpuInfo& g) {
  j.at("index").get_to(g.index);
  j.at("name").get_to(g.name);
  j.at("total_memory_bytes").get_to(g.total_memory_bytes);
  j.at("compute_capability").get_to(g.compute_capability);
}

void to_json(nlohmann::json& j, const MachineInfo& m) {
  j = nlohmann::json{
      {"host_name", m.host_name},
      {"os", m.os},
      {"kernel", m.kernel},
      {"cpu_model", m.cpu_model},
      {"logical_cores", m.logical_cores},
      {"usable_cores", m.usable_cores},
      {"torch_threads", m.torch_threads},
      {"torch_interop_threads", m.torch_interop_threads},
      {"ram_total_bytes", m.ram_total_bytes},
      {"ram_available_bytes", m.ram_available_bytes},
      {"cgroup_memory_limit_bytes",
       m.cgroup_memory_limit_bytes ? nlohmann::json(*m.cgroup_memory_limit_bytes)
                                   : nlohmann::json(nullptr)},
      {"libtorch_version", m.libtorch_version},
      {"cuda_built", m.cuda_built},
      {"cuda_available", m.cuda_available},
      {"gpus", m.gpus},
      {"build_type", m.build_type},
      {"compiler", m.compiler},
  };
}

void from_json(const nlohmann::json& j, MachineInfo& m) {
  j.at("host_name").get_to(m.host_name);
  j.at("os").get_to(m.os);
  j.at("kernel").get_to(m.kernel);
  j.at("cpu_model").get_to(m.cpu_model);
  j.at("logical_cores").get_to(m.logical_cores);
  j.at("usable_cores").get_to(m.usable_cores);
  j.at("torch_threads").get_to(m.torch_threads);
  j.at("torch_interop_threads").get_to(m.torch_interop_threads);
  j.at("ram_total_bytes").get_to(m.ram_total_bytes);
  j.at("ram_available_bytes").get_to(m.ram_available_bytes);
  const auto& limit = j.at("cgroup_memory_limit_bytes");
  if (limit.is_null()) {
    m.cgroup_memory_limit_bytes.reset();
  } else {
    m.cgroup_memory_limit_bytes = limit.get<std::uint64_t>();
  }
  j.at("libtorch_version").get_to(m.libtorch_version);
  j.at("cuda_built").get_to(m.cuda_built);
  j.at("cuda_available").get_to(m.cuda_available);
  j.at("gpus").get_to(m.gpus);
  j.at("build_type").get_to(m.build_type);
  j.at("compiler").get_to(m.compiler);
}

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
