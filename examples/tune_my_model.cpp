// A training program that tunes its own batch size: its own torch::nn::Module,
// its own data (two interleaved spirals, a classic that a linear model cannot
// fit), cross entropy and SGD, handed to batchtune::tune(). It prints the
// recommendation and writes the report that `batchtune report` reads.
//
//   tune_my_model [REPORT.json]
#include <batchtune/batchtune.hpp>

#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <iostream>

// The program's own model.
struct SpiralNetImpl : torch::nn::Module {
  SpiralNetImpl()
      : hidden1(register_module("hidden1", torch::nn::Linear(2, 64))),
        hidden2(register_module("hidden2", torch::nn::Linear(64, 64))),
        out(register_module("out", torch::nn::Linear(64, 3))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(hidden1(x));
    x = torch::relu(hidden2(x));
    return out(x);
  }
  torch::nn::Linear hidden1, hidden2, out;
};
TORCH_MODULE(SpiralNet);

// The program's own data: three spirals of 4,000 points each, with noise.
std::pair<torch::Tensor, torch::Tensor> spirals(std::int64_t per_class, std::uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> xs, ys;
  for (std::int64_t k = 0; k < 3; ++k) {
    const auto r = torch::linspace(0.05, 1.0, per_class);
    const auto angle = r * 4.0 + double(k) * 2.0 * M_PI / 3.0 + torch::randn({per_class}) * 0.15;
    xs.push_back(torch::stack({r * torch::cos(angle), r * torch::sin(angle)}, 1));
    ys.push_back(torch::full({per_class}, k, torch::kInt64));
  }
  return {torch::cat(xs), torch::cat(ys)};
}

int main(int argc, char** argv) {
  const std::string report_path = argc > 1 ? argv[1] : "tune_my_model.json";
  auto [inputs, labels] = spirals(4000, 7);

  batchtune::Tunable t;
  t.name = "spiral-net";
  t.model = batchtune::module_factory([] { return SpiralNet(); });
  t.data = batchtune::tensor_data(inputs, labels, "three spirals");
  t.optimizer = batchtune::sgd(0.05, 0.9);
  t.device = "cpu";

  batchtune::TuneOptions options;
  options.budget_kind = batchtune::BudgetKind::samples;  // every arm sees the same 6,000 samples
  options.budget_value = 6000;
  options.noise_repeats = 8;
  batchtune::TuneHooks hooks;
  hooks.progress = &std::cerr;

  try {
    const batchtune::TuneResult result = batchtune::tune(t, options, hooks);
    std::ofstream(report_path) << result.json.dump(2) << '\n';
    const auto& rec = result.report.recommendation;
    if (!rec || !rec->recommends()) {
      std::cerr << "tune_my_model: no recommendation; see " << report_path << '\n';
      return 1;
    }
    std::cout << "batch size " << *rec->batch_size << " at learning rate " << rec->learning_rate.value_or(0) << " ("
              << to_string(rec->objective) << ")\n";
    for (const auto& reason : rec->reasons) std::cout << "  - " << reason << '\n';
    std::cout << "report: " << report_path << '\n';
  } catch (const batchtune::Error& e) {
    std::cerr << "tune_my_model: " << e.what() << '\n';
    return static_cast<int>(e.code());
  }
  return 0;
}
