// The data-parallel launch read from torchrun's and srun's variables: what a
// launcher sets is understood, and partial or inconsistent variables get one
// line naming the variable (before anything waits on the network).
#include "tests/support/catch.hpp"

#include <map>
#include <string>

#include "reports/util/error.hpp"
#include "tuner/dist/data_parallel.hpp"
#include "tuner/dist/launch.hpp"

using namespace batchtune;
using namespace batchtune::dist;

namespace {

std::optional<LaunchInfo> from(const std::map<std::string, std::string>& vars) {
  return launch_from_environment([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string usage_error(const std::map<std::string, std::string>& vars) {
  try {
    from(vars);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("torchrun's and srun's variables make a launch", "[tuner][dist]") {
  SECTION("no launcher: a plain run") { CHECK_FALSE(from({})); }
  SECTION("a world of one is a plain run") {
    CHECK_FALSE(from({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}));
  }
  SECTION("torchrun") {
    const auto l = from({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                         {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}});
    REQUIRE(l);
    CHECK(l->rank == 3);
    CHECK(l->world_size == 8);
    CHECK(l->local_rank == 1);
    CHECK(l->local_world_size == 2);
    CHECK(l->master_addr == "node0");
    CHECK(l->master_port == 29500);
    CHECK(l->launcher == "torchrun");
  }
  SECTION("srun, with the job script's MASTER_ADDR") {
    const auto l = from({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                         {"SLURM_STEP_ID", "0"}, {"SLURM_STEP_TASKS_PER_NODE", "4(x2)"},
                         {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}});
    REQUIRE(l);
    CHECK(l->rank == 5);
    CHECK(l->world_size == 8);
    CHECK(l->local_rank == 1);
    CHECK(l->local_world_size == 4);
    CHECK(l->launcher == "slurm");
  }
  SECTION("a batch script's SLURM_NTASKS without an srun step is a plain run") {
    CHECK_FALSE(from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}}));
  }
}

TEST_CASE("partial or inconsistent launch variables are refused with the variable named", "[tuner][dist]") {
  CHECK_THAT(usage_error({{"RANK", "1"}}), Catch::Contains("WORLD_SIZE"));
  CHECK_THAT(usage_error({{"WORLD_SIZE", "2"}}), Catch::Contains("RANK"));
  CHECK_THAT(usage_error({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
             Catch::Contains("not below WORLD_SIZE"));
  CHECK_THAT(usage_error({{"RANK", "x"}, {"WORLD_SIZE", "2"}}), Catch::Contains("RANK=x"));
  CHECK_THAT(usage_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "29500"}}),
             Catch::Contains("MASTER_ADDR is not set"));
  CHECK_THAT(usage_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
             Catch::Contains("MASTER_PORT=70000"));
  CHECK_THAT(usage_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"},
                          {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
             Catch::Contains("LOCAL_RANK 2"));
}

TEST_CASE("each rank's rows of a global batch cover it once", "[tuner][dist]") {
  for (std::int64_t global : {2, 7, 16, 1001}) {
    for (int world : {1, 2, 3, 4}) {
      if (global < world) continue;
      std::int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        const auto [begin, end] = rank_rows(global, r, world);
        CHECK(begin == next);
        CHECK(end - begin >= global / world);
        CHECK(end - begin <= global / world + 1);
        next = end;
      }
      CHECK(next == global);
    }
  }
}

TEST_CASE("the collectives' backend: NCCL between GPUs where built, Gloo on CPUs, NCCL on CPUs refused",
          "[tuner][dist]") {
  using dist::Backend;
  using dist::choose_backend;
  CHECK(choose_backend("auto", false, false) == Backend::gloo);
  CHECK(choose_backend("auto", false, true) == Backend::gloo);
  CHECK(choose_backend("auto", true, false) == Backend::gloo);  // a CUDA build without nccl.h
  CHECK(choose_backend("auto", true, true) == Backend::nccl);
  CHECK(choose_backend("gloo", true, true) == Backend::gloo);
  CHECK(choose_backend("nccl", true, true) == Backend::nccl);
  for (const bool built : {false, true}) {
    try {
      choose_backend("nccl", false, built);
      FAIL("NCCL on CPUs was accepted");
    } catch (const DeviceError& e) {
      const std::string m = e.what();
      CHECK(m.find("--dist-backend nccl") != std::string::npos);
      CHECK(m.find(built ? "train on the CPU" : "built without NCCL") != std::string::npos);
      CHECK(m.find('\n') == std::string::npos);
    }
  }
  CHECK_THROWS_AS(choose_backend("mpi", false, false), UsageError);
}

TEST_CASE("a world of one is a plain run unless a backend is named", "[tuner][dist]") {
  const std::map<std::string, std::string> one{
      {"RANK", "0"}, {"WORLD_SIZE", "1"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "1"},
      {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  auto env = [&](const char* name) -> const char* {
    const auto it = one.find(name);
    return it == one.end() ? nullptr : it->second.c_str();
  };
  CHECK_FALSE(dist::launch_from_environment(env));
  const auto l = dist::launch_from_environment(env, /*world_of_one=*/true);
  REQUIRE(l);
  CHECK(l->world_size == 1);
  CHECK(l->master_port == 29500);
}
