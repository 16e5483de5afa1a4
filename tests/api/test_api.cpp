// The public C++ API as a training program uses it: its own module, tensors,
// loss and optimizer, through <batchtune/batchtune.hpp> only.
#include "tests/support/catch.hpp"

#include <batchtune/batchtune.hpp>

#include <torch/torch.h>

#include <atomic>
#include <cmath>

namespace {

struct BlobNetImpl : torch::nn::Module {
  explicit BlobNetImpl(std::int64_t classes = 3)
      : hidden(register_module("hidden", torch::nn::Linear(8, 16))),
        out(register_module("out", torch::nn::Linear(16, classes))) {}
  torch::Tensor forward(torch::Tensor x) { return out(torch::relu(hidden(x))); }
  torch::nn::Linear hidden, out;
};
TORCH_MODULE(BlobNet);

// Three Gaussian blobs in 8 dimensions, in class order (as files often are).
std::pair<torch::Tensor, torch::Tensor> blobs(std::int64_t per_class) {
  torch::manual_seed(11);
  std::vector<torch::Tensor> xs, ys;
  for (std::int64_t k = 0; k < 3; ++k) {
    xs.push_back(torch::randn({per_class, 8}) + double(k) * 1.5);
    ys.push_back(torch::full({per_class}, k, torch::kInt64));
  }
  return {torch::cat(xs), torch::cat(ys)};
}

batchtune::Tunable blob_tunable() {
  auto [x, y] = blobs(700);
  batchtune::Tunable t;
  t.name = "blob-net";
  t.model = batchtune::module_factory([] { return BlobNet(); });
  t.data = batchtune::tensor_data(x, y, "blobs");
  t.optimizer = batchtune::sgd(0.05);
  t.device = "cpu";
  return t;
}

batchtune::TuneOptions small_options() {
  batchtune::TuneOptions o;
  o.batch_sizes = {16, 64};
  o.budget_kind = batchtune::BudgetKind::samples;
  o.budget_value = 1024;
  o.eval_samples = 128;
  o.noise_repeats = 4;
  return o;
}

// A map-style torch::data dataset, as a C++ program might already have.
struct BlobDataset : torch::data::datasets::Dataset<BlobDataset> {
  BlobDataset() { std::tie(x, y) = blobs(100); }
  torch::data::Example<> get(size_t i) override {
    return {x[static_cast<std::int64_t>(i)], y[static_cast<std::int64_t>(i)]};
  }
  torch::optional<size_t> size() const override { return static_cast<size_t>(x.size(0)); }
  torch::Tensor x, y;
};

}  // namespace

TEST_CASE("the API tunes a program's own module on its own tensors", "[api]") {
  const batchtune::TuneResult r = batchtune::tune(blob_tunable(), small_options());
  CHECK(r.end == batchtune::TuneEnd::complete);
  CHECK(r.json["schema_version"] == batchtune::kReportSchemaVersion);
  const auto& w = r.report.workload;
  CHECK(w.model == "blob-net");
  CHECK(w.data == "blobs");
  CHECK(w.task == "classification");
  CHECK(w.num_classes == 3);
  CHECK(w.optimizer == "sgd");
  CHECK(w.loss == "cross_entropy");
  CHECK(w.parameter_count == 8 * 16 + 16 + 16 * 3 + 3);
  // A seeded random tenth held out, not the last (all class 2) rows.
  CHECK(w.validation_samples == 210);
  CHECK(w.train_samples == 1890);
  REQUIRE(r.report.sweep);
  const auto& arms = r.report.sweep->arms;
  REQUIRE(arms.size() == 2);
  CHECK(arms[0].batch_size == 16);
  CHECK(arms[1].batch_size == 64);
  for (const auto& a : arms) CHECK(a.status == batchtune::ArmStatus::completed);
  // sgd scales linearly from base batch 64, where the given rate applies.
  CHECK(arms[1].learning_rate == Approx(0.05));
  CHECK(arms[0].learning_rate == Approx(0.05 / 4));
  // The factory gives the same initial weights to every arm.
  CHECK(arms[0].initial_weights_sum == arms[1].initial_weights_sum);
  REQUIRE(r.report.recommendation);
  CHECK(r.report.recommendation->objective == batchtune::Objective::time_to_target);
}

TEST_CASE("the API takes a program's own loss and optimizer", "[api]") {
  batchtune::Tunable t = blob_tunable();
  t.loss = [](const torch::Tensor& out, const torch::Tensor& y) {
    return torch::nn::functional::cross_entropy(out, y, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(0.1));
  };
  t.loss_name = "smoothed cross entropy";
  t.optimizer = batchtune::adam(1e-3);
  batchtune::TuneOptions o = small_options();
  o.noise_repeats = 0;
  const batchtune::TuneResult r = batchtune::tune(t, o);
  CHECK(r.report.workload.loss == "smoothed cross entropy");
  CHECK(r.report.workload.optimizer == "adam");
  REQUIRE(r.report.sweep->arms.size() == 2);
  // adam: square-root scaling, so a quarter of the batch gets half the rate.
  CHECK(r.report.sweep->arms[0].learning_rate == Approx(1e-3 / 2));
}

TEST_CASE("the API reads a torch::data dataset into memory", "[api]") {
  BlobDataset ds;
  const batchtune::TrainingData d = batchtune::dataset_data(ds, "blob dataset");
  CHECK(d.inputs.sizes().vec() == std::vector<std::int64_t>{300, 8});
  CHECK(d.targets.sizes().vec() == std::vector<std::int64_t>{300});
  CHECK(d.targets[299].item<std::int64_t>() == 2);
  CHECK(d.name == "blob dataset");
}

TEST_CASE("the API refuses data, models and losses it cannot use, in one line", "[api]") {
  SECTION("inputs and targets of different lengths") {
    batchtune::Tunable t = blob_tunable();
    t.data.targets = t.data.targets.slice(0, 0, 100);
    CHECK_THROWS_WITH(batchtune::tune(t, small_options()),
                      Catch::Contains("same number of samples") && Catch::Contains("blobs"));
  }
  SECTION("a model with fewer outputs than the labels' classes") {
    batchtune::Tunable t = blob_tunable();
    t.model = batchtune::module_factory([] { return BlobNet(2); });
    CHECK_THROWS_AS(batchtune::tune(t, small_options()), batchtune::InputError);
    CHECK_THROWS_WITH(batchtune::tune(t, small_options()), Catch::Contains("outputs 2 classes"));
  }
  SECTION("a loss that does not return one number") {
    batchtune::Tunable t = blob_tunable();
    t.loss = [](const torch::Tensor& out, const torch::Tensor&) { return out.sum(1); };
    t.loss_name = "per-sample";
    CHECK_THROWS_WITH(batchtune::tune(t, small_options()),
                      Catch::Contains("per-sample") && Catch::Contains("one number"));
  }
  SECTION("isolated trials, which need the command line's workload") {
    batchtune::TuneOptions o = small_options();
    o.probe.isolate = true;
    CHECK_THROWS_AS(batchtune::tune(blob_tunable(), o), batchtune::UsageError);
  }
  SECTION("sizes above the training set") {
    batchtune::TuneOptions o = small_options();
    o.batch_sizes = {16, 4096};
    o.budget_value = 8192;
    CHECK_THROWS_WITH(batchtune::tune(blob_tunable(), o), Catch::Contains("larger than the training set"));
  }
}

TEST_CASE("the API stops when asked and keeps what it measured", "[api]") {
  std::atomic<bool> stop{true};
  batchtune::TuneHooks hooks;
  hooks.stop = &stop;
  int checkpoints = 0;
  hooks.checkpoint = [&](const nlohmann::ordered_json& report, const std::string&) {
    ++checkpoints;
    CHECK(report["sweep"]["incomplete"] == true);
  };
  const batchtune::TuneResult r = batchtune::tune(blob_tunable(), small_options(), hooks);
  CHECK(r.end == batchtune::TuneEnd::interrupted);
  REQUIRE(r.report.sweep);
  CHECK(r.report.sweep->incomplete);
  CHECK(r.report.sweep->incomplete_reason.find("a stop request") != std::string::npos);
  CHECK_FALSE(r.report.recommendation);
  CHECK(checkpoints >= 1);
}
