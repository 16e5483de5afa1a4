#include "tests/support/catch.hpp"

#include <chrono>
#include <cstdlib>

#include "reports/model/machine_info.hpp"

using batchtune::GpuInfo;
using batchtune::MachineInfo;

namespace {
MachineInfo sample_machine() {
  MachineInfo m;
  m.host_name = "node-7";
  m.os = "Debian GNU/Linux 12 (bookworm)";
  m.kernel = "Linux 6.1.0 x86_64";
  m.cpu_model = "AMD EPYC 9454";
  m.logical_cores = 2;
  m.usable_cores = 2;
  m.torch_threads = 2;
  m.torch_interop_threads = 2;
  m.ram_total_bytes = 24ULL << 30;
  m.ram_available_bytes = 20ULL << 30;
  m.cgroup_memory_limit_bytes = 16ULL << 30;
  m.libtorch_version = "1.13.0";
  m.cuda_built = true;
  m.cuda_available = true;
  m.gpus.push_back(GpuInfo{0, "NVIDIA H200", 150ULL << 30, "9.0"});
  m.build_type = "Release";
  m.compiler = "gcc 12.2.0";
  return m;
}
}  // namespace

TEST_CASE("machine info survives a JSON round trip", "[reports]") {
  const MachineInfo m = sample_machine();
  const nlohmann::json j = m;
  const auto back = j.get<MachineInfo>();
  CHECK(back.host_name == m.host_name);
  CHECK(back.ram_total_bytes == m.ram_total_bytes);
  REQUIRE(back.cgroup_memory_limit_bytes.has_value());
  CHECK(*back.cgroup_memory_limit_bytes == 16ULL << 30);
  REQUIRE(back.gpus.size() == 1);
  CHECK(back.gpus[0].name == "NVIDIA H200");
  CHECK(back.gpus[0].compute_capability == "9.0");
  CHECK(nlohmann::json(back) == j);

  SECTION("no cgroup limit is written as null and read back as none") {
    MachineInfo unlimited = m;
    unlimited.cgroup_memory_limit_bytes.reset();
    const nlohmann::json u = unlimited;
    CHECK(u.at("cgroup_memory_limit_bytes").is_null());
    CHECK_FALSE(u.get<MachineInfo>().cgroup_memory_limit_bytes.has_value());
  }
  SECTION("a missing field is an error, not a default") {
    nlohmann::json broken = j;
    broken.erase("cpu_model");
    CHECK_THROWS_AS(broken.get<MachineInfo>(), nlohmann::json::out_of_range);
  }
}

TEST_CASE("machine label prefers the GPU model", "[reports]") {
  MachineInfo m = sample_machine();
  CHECK(batchtune::machine_label(m) == "NVIDIA H200 @ node-7");
  m.gpus.clear();
  CHECK(batchtune::machine_label(m) == "AMD EPYC 9454 @ node-7");
}

TEST_CASE("other processes' CPU use is read from /proc and a busy child is counted", "[reports]") {
  const auto before = batchtune::read_cpu_times();
  REQUIRE(before.has_value());  // Linux: /proc/stat and /proc/self/stat
  CHECK(before->busy_seconds > 0);
  // A child process spinning for 0.6 s is another process: counted. This
  // process only waits for it.
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(std::system("timeout 0.6 sh -c 'while :; do :; done'; true") == 0);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto after = batchtune::read_cpu_times();
  const auto others = batchtune::other_cpu_cores(before, after, wall);
  REQUIRE(others.has_value());
  CHECK(*others > 0.4);  // about one core, less the scheduler's rounding
  // This process's own work is not another's.
  CHECK(after->own_seconds >= before->own_seconds);
  CHECK_FALSE(batchtune::other_cpu_cores(std::nullopt, after, wall).has_value());
  CHECK_FALSE(batchtune::other_cpu_cores(before, after, 0.0).has_value());
}
