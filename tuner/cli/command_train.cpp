// `batchtune train`: one training run at one batch size on a workload, with
// the training loss as it falls and the validation result at the end. The
// check that a workload is sound before probing or sweeping it.
#include <CLI/CLI.hpp>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <ostream>

#include "reports/util/error.hpp"
#include "tuner/cli/cli.hpp"
#include "tuner/cli/workload_options.hpp"

namespace batchtune {
namespace {

struct TrainOptions {
  WorkloadArgs workload;
  std::int64_t batch_size = 64;
  std::int64_t steps = 0;
  double epochs = 0;
  std::int64_t log_every = 0;
  std::int64_t eval_samples = 0;
  bool json = false;
};

void run_train(const TrainOptions& o, Io io) {
  const Workload workload = Workload::create(o.workload.to_spec());
  const auto& data = workload.data();
  std::int64_t steps = o.steps;
  if (steps == 0) {
    const double epochs = o.epochs > 0 ? o.epochs : 1.0;
    steps = std::max<std::int64_t>(1, static_cast<std::int64_t>(epochs * double(data.train.size()) / double(o.batch_size)));
  }
  const std::int64_t log_every = o.log_every > 0 ? o.log_every : std::max<std::int64_t>(1, steps / 10);

  auto model = workload.make_model();
  auto optimizer = workload.make_optimizer(*model, workload.optimizer().learning_rate);
  BatchSampler sampler = workload.make_sampler();
  LossScaler scaler;
  const WorkloadInfo info = workload.info();
  if (!o.json) {
    io.out << "train " << info.model << " (" << info.parameter_count << " parameters) on " << info.data << " ("
           << info.train_samples << " training, " << info.validation_samples << " validation samples), "
           << info.optimizer << " lr " << info.learning_rate << ", batch " << o.batch_size << ", " << steps
           << " steps on " << info.device << "\n";
    io.out << "      step    samples  epoch  train_loss  samples_per_s\n";
  }
  nlohmann::json log = nlohmann::json::array();
  using clock = std::chrono::steady_clock;
  auto interval_start = clock::now();
  double interval_loss = 0;
  std::int64_t interval_steps = 0;
  for (std::int64_t step = 1; step <= steps; ++step) {
    auto [x, y] = workload.next_batch(sampler, o.batch_size);
    interval_loss += train_step(*model, *optimizer, workload, x, y, &scaler).item<double>();
    ++interval_steps;
    if (step % log_every == 0 || step == steps) {
      const double seconds = std::chrono::duration<double>(clock::now() - interval_start).count();
      const double mean_loss = interval_loss / double(interval_steps);
      const double rate = double(interval_steps * o.batch_size) / seconds;
      if (!std::isfinite(mean_loss)) {
        throw RuntimeFailure("training diverged at step " + std::to_string(step) + " (loss " +
                             std::to_string(mean_loss) + "); lower --lr");
      }
      if (o.json) {
        log.push_back({{"step", step}, {"samples", sampler.samples_drawn()}, {"train_loss", mean_loss},
                       {"samples_per_s", rate}});
      } else {
        char line[128];
        std::snprintf(line, sizeof line, "%10lld %10lld %6lld %11.4f %14.1f\n", static_cast<long long>(step),
                      static_cast<long long>(sampler.samples_drawn()), static_cast<long long>(sampler.epoch()),
                      mean_loss, rate);
        io.out << line << std::flush;
      }
      interval_loss = 0;
      interval_steps = 0;
      interval_start = clock::now();
    }
  }
  const Evaluation e = workload.evaluate(*model, o.eval_samples);
  if (o.json) {
    nlohmann::json out{{"workload", info}, {"batch_size", o.batch_size}, {"steps", steps}, {"log", log},
                       {"validation", {{"loss", e.loss}, {"samples", e.samples},
                                       {"accuracy", e.accuracy ? nlohmann::json(*e.accuracy) : nlohmann::json(nullptr)}}}};
    io.out << out.dump(2) << '\n';
  } else {
    io.out << "validation loss " << e.loss;
    if (e.accuracy) io.out << ", accuracy " << *e.accuracy;
    io.out << " on " << e.samples << " samples";
    if (data.loss_floor) io.out << " (loss floor " << *data.loss_floor << ")";
    io.out << '\n';
  }
}

}  // namespace

void setup_train(CLI::App& app, Io io) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand(
      "train", "Train one workload at one batch size and print the loss as it falls; checks a workload");
  add_workload_options(*sub, o->workload);
  sub->add_option("-b,--batch-size", o->batch_size, "Batch size")->capture_default_str()->check(CLI::Range(1, 1 << 24));
  auto* steps = sub->add_option("--steps", o->steps, "Optimizer steps (default: one epoch)")->check(CLI::Range(1, 1 << 30));
  sub->add_option("--epochs", o->epochs, "Epochs instead of steps")->check(finite_number(false, 1e6))->excludes(steps);
  sub->add_option("--log-every", o->log_every, "Print every N steps (default: 10 lines)")->check(CLI::Range(1, 1 << 30));
  sub->add_option("--eval-samples", o->eval_samples, "Validation samples to evaluate (default: all)")
      ->check(CLI::Range(1, 1 << 30));
  sub->add_flag("--json", o->json, "Print JSON instead of a table");
  sub->callback([o, io] { run_train(*o, io); });
}

}  // namespace batchtune
