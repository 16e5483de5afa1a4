// The CUDA paths on a device: the caching allocator's statistics, the probe's
// real OOM under a memory cap (and a step at the edge after it), and fp16
// with loss scaling and bf16. Without a device each says SKIPPED (counted by
// CTest), never a silent pass; scripts/gpu-check runs them on a lent GPU.
#include "tests/support/catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "probes/cuda_adapter.hpp"
#include "tuner/run/probe_runner.hpp"
#include "tuner/workload/workload.hpp"

using namespace batchtune;

namespace {

constexpr const char* kNoDevice = "no CUDA device visible (a CPU build, or no GPU): run scripts/gpu-check on one";

WorkloadSpec on_cuda(const std::string& model, const std::string& precision = "fp32") {
  WorkloadSpec s;
  s.model = model;
  s.data = "synthetic";
  s.synthetic = {4096, 256};
  s.device = "cuda";
  s.optimizer = "adam";
  s.precision = precision;
  return s;
}

}  // namespace

TEST_CASE("the CUDA allocator's statistics see an allocation, and its peak resets", "[tuner][cuda]") {
  if (probes::cuda_device_count() == 0) BATCHTUNE_SKIP(kNoDevice);
  REQUIRE(probes::cuda_built());
  const auto props = probes::cuda_device_properties(0);
  CHECK_FALSE(props.name.empty());
  CHECK(props.total_memory_bytes > (1ULL << 30));
  probes::cuda_empty_cache();
  probes::cuda_reset_peak(0);
  constexpr std::uint64_t kBytes = 64ULL << 20;
  {
    auto t = torch::empty({static_cast<std::int64_t>(kBytes / 4)}, torch::dtype(torch::kFloat32).device(torch::kCUDA, 0));
    t.fill_(1.0f);
    probes::cuda_synchronize(0);
    CHECK(probes::cuda_peak_allocated_bytes(0) >= kBytes);
    CHECK(probes::cuda_peak_reserved_bytes(0) >= probes::cuda_peak_allocated_bytes(0));
  }
  probes::cuda_empty_cache();
  probes::cuda_reset_peak(0);
  CHECK(probes::cuda_peak_allocated_bytes(0) < kBytes);
  const auto mem = probes::cuda_memory_info(0);
  CHECK(mem.total_bytes > 0);
  CHECK(mem.free_bytes <= mem.total_bytes);
}

TEST_CASE("on a CUDA device the probe meets a real OOM under its cap, and the edge trains after it", "[tuner][cuda]") {
  if (probes::cuda_device_count() == 0) BATCHTUNE_SKIP(kNoDevice);
  const Workload w = Workload::create(on_cuda("mlp"));
  ProbeSettings s;
  s.memory_limit_bytes = 256ULL << 20;  // a small card's worth of the large one
  std::ostringstream progress;
  const ProbeResult p = run_probe(w, s, progress);
  INFO(progress.str());
  REQUIRE(p.largest_fitting_batch > 0);
  CHECK(p.first_failing_batch.has_value());
  CHECK(p.safe_max_batch <= p.largest_fitting_batch);
  // The OOM left nothing behind: the largest fitting size trains now.
  auto model = w.make_model();
  auto opt = w.make_optimizer(*model, 1e-3);
  BatchSampler sampler = w.make_sampler();
  auto [x, y] = w.next_batch(sampler, p.safe_max_batch);
  const double loss = train_step(*model, *opt, w, x, y).item<double>();
  CHECK(std::isfinite(loss));
}

TEST_CASE("fp16 (loss scaling) and bf16 train on a CUDA device", "[tuner][cuda][precision]") {
  if (probes::cuda_device_count() == 0) BATCHTUNE_SKIP(kNoDevice);
  for (const std::string precision : {"fp16", "bf16"}) {
    INFO(precision);
    const Workload w = Workload::create(on_cuda("gpt", precision));
    auto model = w.make_model();
    auto opt = w.make_optimizer(*model, 3e-3);
    BatchSampler sampler = w.make_sampler();
    double first = 0, last = 0;
    for (int step = 0; step < 60; ++step) {
      auto [x, y] = w.next_batch(sampler, 32);
      const double loss = train_step(*model, *opt, w, x, y).item<double>();
      REQUIRE(std::isfinite(loss));
      if (step < 5) first += loss / 5;
      if (step >= 55) last += loss / 5;
    }
    CHECK(last < first);
  }
}
