#include "tests/support/catch.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <sstream>

#include "reports/util/error.hpp"
#include "tuner/run/probe_runner.hpp"
#include "tuner/workload/autocast_state.hpp"
#include "tuner/workload/workload.hpp"

using namespace batchtune;

namespace {
WorkloadSpec gpt(const std::string& precision) {
  WorkloadSpec s;
  s.model = "gpt";
  s.data = "synthetic";
  s.synthetic = {1024, 128};
  s.device = "cpu";
  s.optimizer = "adam";
  s.precision = precision;
  return s;
}
}  // namespace

TEST_CASE("bf16 autocast trains, saves memory, and leaves autocast off", "[tuner][precision]") {
  const Workload w = Workload::create(gpt("bf16"));
  CHECK(w.info().precision == "bf16");
  auto model = w.make_model();
  auto opt = w.make_optimizer(*model, 3e-3);
  BatchSampler sampler = w.make_sampler();
  double first = 0, last = 0;
  for (int step = 0; step < 120; ++step) {
    auto [x, y] = w.next_batch(sampler, 16);
    const double loss = train_step(*model, *opt, w, x, y).item<double>();
    if (step < 10) first += loss / 10;
    if (step >= 110) last += loss / 10;
  }
  CHECK(last < 0.8 * first);
  CHECK_FALSE(autocast_enabled(/*cuda=*/false));  // the scope restored it

  SECTION("the same budget fits a larger batch than fp32") {
    ProbeSettings s;
    s.memory_limit_bytes = 24ULL << 20;
    std::ostringstream progress;
    const auto bf16 = run_probe(w, s, progress);
    const auto fp32 = run_probe(Workload::create(gpt("fp32")), s, progress);
    INFO("bf16 " << bf16.largest_fitting_batch << ", fp32 " << fp32.largest_fitting_batch);
    CHECK(bf16.largest_fitting_batch > fp32.largest_fitting_batch);
  }
}

TEST_CASE("fp16 needs CUDA", "[tuner][precision]") {
  if (torch::cuda::is_available()) BATCHTUNE_SKIP("a CUDA device is visible: this checks fp16's refusal without one");
  CHECK_THROWS_AS(Workload::create(gpt("fp16")), UsageError);
}
