#include "tests/support/catch.hpp"

#include <torch/torch.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/util/error.hpp"
#include "tests/support/cli_run.hpp"
#include "tests/support/temp_dir.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/workload/models.hpp"
#include "tuner/workload/workload.hpp"

using namespace batchtune;

namespace {

const std::string kFixtures = BATCHTUNE_FIXTURES_DIR;

WorkloadSpec synthetic(const std::string& model) {
  WorkloadSpec s;
  s.model = model;
  s.data = "synthetic";
  s.synthetic = {2048, 256};
  s.optimizer = "adam";
  s.device = "cpu";
  s.seed = 1;
  return s;
}

// Mean training loss of the first and last `window` steps of a short run.
std::pair<double, double> loss_start_end(const Workload& w, std::int64_t batch, int steps, int window = 10) {
  auto model = w.make_model();
  auto opt = w.make_optimizer(*model, w.optimizer().learning_rate);
  BatchSampler sampler = w.make_sampler();
  double start = 0, end = 0;
  for (int s = 0; s < steps; ++s) {
    auto [x, y] = w.next_batch(sampler, batch);
    const double loss = train_step(*model, *opt, w, x, y).item<double>();
    if (s < window) start += loss / window;
    if (s >= steps - window) end += loss / window;
  }
  return {start, end};
}

std::vector<double> loss_sequence(const Workload& w, int steps) {
  auto model = w.make_model();
  auto opt = w.make_optimizer(*model, w.optimizer().learning_rate);
  BatchSampler sampler = w.make_sampler();
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    auto [x, y] = w.next_batch(sampler, 16);
    losses.push_back(train_step(*model, *opt, w, x, y).item<double>());
  }
  return losses;
}

using Run = test::CliRun;
Run cli(const std::vector<std::string>& args) { return test::run_cli(args); }

}  // namespace

TEST_CASE("every built-in model learns its synthetic data", "[tuner][workload]") {
  // To below 70% of the starting loss within a few hundred small steps.
  for (const std::string model : {"mlp", "cnn", "resnet", "gpt"}) {
    DYNAMIC_SECTION(model) {
      const Workload w = Workload::create(synthetic(model));
      const auto [start, end] = loss_start_end(w, 16, model == "cnn" ? 150 : 300);
      INFO("start " << start << ", end " << end);
      CHECK(end < 0.7 * start);
    }
  }
}

TEST_CASE("gpt on Markov tokens approaches the known floor, never below it", "[tuner][workload]") {
  WorkloadSpec s = synthetic("gpt");
  s.synthetic = {4096, 512};
  const Workload w = Workload::create(s);
  REQUIRE(w.data().loss_floor.has_value());
  auto model = w.make_model();
  auto opt = w.make_optimizer(*model, 3e-3);
  BatchSampler sampler = w.make_sampler();
  for (int step = 0; step < 300; ++step) {
    auto [x, y] = w.next_batch(sampler, 32);
    train_step(*model, *opt, w, x, y);
  }
  const Evaluation e = w.evaluate(*model);
  INFO("validation loss " << e.loss << ", floor " << *w.data().loss_floor);
  CHECK(e.loss > *w.data().loss_floor - 0.05);  // sampling noise only
  CHECK(e.loss < std::log(double(w.data().num_classes)));  // better than uniform
}

TEST_CASE("the same seed reproduces the same losses on CPU", "[tuner][workload]") {
  const Workload a = Workload::create(synthetic("mlp"));
  const auto first = loss_sequence(a, 20);
  const auto second = loss_sequence(a, 20);
  CHECK(first == second);  // bit for bit: same weights, same batches

  WorkloadSpec other = synthetic("mlp");
  other.seed = 2;
  CHECK(loss_sequence(Workload::create(other), 20) != first);

  SECTION("fresh models start from the same weights") {
    auto m1 = a.make_model(), m2 = a.make_model();
    const auto p1 = m1->parameters(), p2 = m2->parameters();
    REQUIRE(p1.size() == p2.size());
    for (std::size_t i = 0; i < p1.size(); ++i) CHECK(p1[i].equal(p2[i]));
  }
}

TEST_CASE("a TorchScript model exported from Python trains", "[tuner][workload]") {
  SECTION("scripted CNN on Fashion-MNIST") {
    WorkloadSpec s;
    s.model = kFixtures + "/tiny_cnn.pt";
    s.device = "cpu";
    const Workload w = Workload::create(s);
    CHECK(w.info().parameter_count == 8 * 9 + 8 + 16 + 8 * 13 * 13 * 10 + 10);
    const auto before = w.evaluate(*w.make_model(), 2000);
    auto model = w.make_model();
    auto opt = w.make_optimizer(*model, w.optimizer().learning_rate);
    BatchSampler sampler = w.make_sampler();
    for (int step = 0; step < 100; ++step) {
      auto [x, y] = w.next_batch(sampler, 32);
      train_step(*model, *opt, w, x, y);
    }
    const auto after = w.evaluate(*model, 2000);
    CHECK(after.loss < 0.7 * before.loss);
    REQUIRE(after.accuracy.has_value());
    CHECK(*after.accuracy > 0.6);
    // The copy trained, the prototype did not: a fresh model starts over.
    CHECK(w.evaluate(*w.make_model(), 2000).loss == Approx(before.loss));
  }
  SECTION("an MLP scripted by PyTorch 2.6 (Debian 13) trains in this LibTorch") {
    WorkloadSpec s = synthetic(kFixtures + "/torch26_mlp_scripted.pt");
    s.input_shape = {16};
    s.num_classes = 4;
    s.learning_rate = 0.05;
    const Workload w = Workload::create(s);
    CHECK(w.info().parameter_count == 16 * 32 + 32 + 32 * 4 + 4);
    const auto [start, end] = loss_start_end(w, 16, 200);
    CHECK(end < 0.8 * start);
  }
  SECTION("traced MLP on synthetic regression") {
    WorkloadSpec s = synthetic(kFixtures + "/tiny_mlp_traced.pt");
    s.input_shape = {16};
    s.target_shape = {4};
    s.learning_rate = 0.01;
    const Workload w = Workload::create(s);
    CHECK(w.info().loss == "mse");
    const auto [start, end] = loss_start_end(w, 16, 300);
    CHECK(end < 0.7 * start);
  }
}

TEST_CASE("bad workload input: one line, the documented exit code", "[tuner][workload][cli]") {
  const std::string fixtures = kFixtures;
  const test::TempDir tmp;
  const std::string truncated = tmp.file("truncated-model.pt");
  {
    std::ifstream in(fixtures + "/tiny_cnn.pt", std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  struct Case {
    std::vector<std::string> args;
    ExitCode code;
    std::string mentions;
  };
  const std::vector<Case> cases{
      {{"--model", "missing.pt"}, ExitCode::bad_input, "missing.pt"},
      {{"--model", truncated}, ExitCode::bad_input, "not a readable TorchScript file"},
      {{"--model", fixtures + "/state_dict.pt"}, ExitCode::bad_input, "not a readable TorchScript file"},
      {{"--model", fixtures + "/torch26_mlp_exported.pt2", "--data", "synthetic", "--input-shape", "16",
        "--num-classes", "4"},
       ExitCode::bad_input, "a torch.export program (.pt2), not TorchScript"},
      {{"--model", fixtures + "/tiny_cnn.pt", "--data", "synthetic", "--input-shape", "3x32x32", "--num-classes", "10"},
       ExitCode::bad_input, "expected input"},
      {{"--model", fixtures + "/tiny_cnn.pt", "--data", "synthetic"}, ExitCode::usage, "--input-shape"},
      {{"--model", "cnn", "--data", "synthetic", "--input-shape", "3x32x32"}, ExitCode::bad_input, "1x28x28"},
      {{"--data-dir", "/nonexistent/fmnist"}, ExitCode::bad_input, "/nonexistent/fmnist"},
      {{"--model", "vgg"}, ExitCode::usage, "vgg"},
      {{"--loss", "hinge"}, ExitCode::usage, "hinge"},
      {{"--optimizer", "lamb"}, ExitCode::usage, "lamb"},
      {{"--device", "gpu"}, ExitCode::usage, "gpu"},
      {{"--input-shape", "3xx2"}, ExitCode::usage, "3xx2"},
      {{"--model", "gpt", "--data", "fashion-mnist"}, ExitCode::usage, "token data"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"train", "--steps", "1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Run r = cli(args);
    INFO(r.err);
    CHECK(r.code == to_int(c.code));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find(c.mentions) != std::string::npos);
    CHECK(r.out.empty());
  }

}

// In a CPU build and in a CUDA build on a machine without a GPU alike: one
// line, exit 4, the fix named; `info` says which of the two it is.
TEST_CASE("without a CUDA device, --device cuda gets one line and exit 4, and info says why", "[tuner][cuda]") {
  if (torch::cuda::is_available()) BATCHTUNE_SKIP("a CUDA device is visible: this checks the machine without one");
  for (const std::string device : {"cuda", "cuda:1", "auto"}) {
    const Run r = cli({"train", "--steps", "1", "--device", device});
    INFO(device << ": " << r.err);
    if (device == "auto") {
      CHECK(r.code == 0);  // auto falls back to the CPU
      continue;
    }
    CHECK(r.code == to_int(ExitCode::device_unavailable));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("--device " + device) != std::string::npos);
    CHECK(r.err.find("use --device cpu") != std::string::npos);
#if defined(BATCHTUNE_WITH_CUDA)
    CHECK(r.err.find("no CUDA device answers on this machine") != std::string::npos);
#else
    CHECK(r.err.find("built against a LibTorch without CUDA") != std::string::npos);
#endif
  }
  const Run info = cli({"info"});
  REQUIRE(info.code == 0);
#if defined(BATCHTUNE_WITH_CUDA)
  CHECK(info.out.find("built in, no device visible") != std::string::npos);
#else
  CHECK(info.out.find("not built in") != std::string::npos);
#endif
  const Run probe = cli({"probe", "--device", "cuda", "--model", "mlp", "--data", "synthetic"});
  CHECK(probe.code == to_int(ExitCode::device_unavailable));
  CHECK(std::count(probe.err.begin(), probe.err.end(), '\n') == 1);
}

TEST_CASE("TorchScript models run op by op unless --jit-optimize on, and train the same either way",
          "[tuner][workload]") {
  REQUIRE(torch::jit::getGraphExecutorOptimize());  // LibTorch's default
  {
    const TorchScriptOptimization off(false);
    CHECK_FALSE(torch::jit::getGraphExecutorOptimize());
    {
      const TorchScriptOptimization on(true);
      CHECK(torch::jit::getGraphExecutorOptimize());
    }
    CHECK_FALSE(torch::jit::getGraphExecutorOptimize());
  }
  CHECK(torch::jit::getGraphExecutorOptimize());  // restored

  // The same scripted CNN, seed and batches: the same losses, optimised or not.
  std::vector<double> losses[2];
  for (const bool optimize : {false, true}) {
    WorkloadSpec s = synthetic(kFixtures + "/tiny_cnn.pt");
    s.input_shape = {1, 28, 28};
    s.num_classes = 10;
    s.jit_optimize = optimize;
    const Workload w = Workload::create(s);
    auto model = w.make_model();
    auto opt = w.make_optimizer(*model, w.optimizer().learning_rate);
    BatchSampler sampler = w.make_sampler();
    for (int step = 0; step < 6; ++step) {
      auto [x, y] = w.next_batch(sampler, 16);
      losses[optimize ? 1 : 0].push_back(train_step(*model, *opt, w, x, y).item<double>());
    }
    CHECK(torch::jit::getGraphExecutorOptimize());  // each call restores it
  }
  for (std::size_t i = 0; i < losses[0].size(); ++i) CHECK(losses[0][i] == Approx(losses[1][i]).epsilon(1e-4));

  // The option: on/off only, handed to an isolated trial's child as given.
  WorkloadSpec on;
  on.jit_optimize = true;
  const auto args = workload_to_args(on);
  CHECK(std::find(args.begin(), args.end(), "--jit-optimize") != args.end());
  CHECK(cli({"probe", "--jit-optimize", "maybe"}).code == to_int(ExitCode::usage));
}
