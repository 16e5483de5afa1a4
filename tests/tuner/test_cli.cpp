#include "tests/support/catch.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include "reports/util/error.hpp"
#include "tests/support/cli_run.hpp"
#include "tuner/cli/cli.hpp"

namespace {

using Run = batchtune::test::CliRun;
Run run(const std::vector<std::string>& args) { return batchtune::test::run_cli(args); }
using batchtune::test::count_lines;

}  // namespace

TEST_CASE("bad command lines get one line and the usage exit code", "[tuner][cli]") {
  const int usage = batchtune::to_int(batchtune::ExitCode::usage);
  SECTION("unknown subcommand") {
    const Run r = run({"frobnicate"});
    CHECK(r.code == usage);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.rfind("batchtune: error: ", 0) == 0);
    CHECK(r.err.find("frobnicate") != std::string::npos);
    CHECK(r.out.empty());
  }
  SECTION("unknown option") {
    const Run r = run({"info", "--jsn"});
    CHECK(r.code == usage);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("--jsn") != std::string::npos);
  }
  SECTION("no subcommand") {
    const Run r = run({});
    CHECK(r.code == usage);
    CHECK(count_lines(r.err) == 1);
  }
}

TEST_CASE("help and version exit 0 on stdout", "[tuner][cli]") {
  const Run help = run({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("info") != std::string::npos);
  CHECK(help.out.find("Exit codes") != std::string::npos);

  const Run version = run({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out.find("batchtune ") == 0);
  CHECK(version.out.find("commit ") != std::string::npos);
}

TEST_CASE("info --json reports what the system and LibTorch say", "[tuner][cli]") {
  const Run r = run({"info", "--json"});
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  const auto& m = j.at("machine");
  CHECK(j.at("tool").at("name") == "batchtune");
  CHECK(m.at("logical_cores").get<long>() == sysconf(_SC_NPROCESSORS_ONLN));
  CHECK(m.at("libtorch_version") == TORCH_VERSION);
  CHECK(m.at("torch_threads").get<int>() >= 1);
  CHECK(m.at("ram_total_bytes").get<std::uint64_t>() >= m.at("ram_available_bytes").get<std::uint64_t>());
  CHECK(m.at("ram_available_bytes").get<std::uint64_t>() > 0);
  CHECK_FALSE(m.at("cpu_model").get<std::string>().empty());
  CHECK_FALSE(m.at("host_name").get<std::string>().empty());
  // Without a driver there are no GPUs, whatever the build.
  CHECK(m.at("cuda_available").get<bool>() == !m.at("gpus").empty());

  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  meminfo >> key >> kib;
  REQUIRE(key == "MemTotal:");
  CHECK(m.at("ram_total_bytes").get<std::uint64_t>() == kib * 1024);
}
