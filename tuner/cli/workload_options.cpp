#include "tuner/cli/workload_options.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>

#include <sstream>

namespace batchtune {

// A finite number above zero (or at least zero): CLI11's PositiveNumber
// accepts inf and prints its range with DBL_MAX in full.
CLI::Validator finite_number(bool zero_allowed, double max) {
  return CLI::Validator(
      [zero_allowed, max](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "'" + text + "' is not a number";
        } catch (const std::exception&) {
          return "'" + text + "' is not a number";
        }
        if (!std::isfinite(v)) return "must be a finite number, got " + text;
        if (zero_allowed ? v < 0 : v <= 0) return std::string("must be ") + (zero_allowed ? "zero or more" : "above zero") + ", got " + text;
        if (v > max) {
          char limit[32];
          std::snprintf(limit, sizeof limit, "%g", max);
          return "must be at most " + std::string(limit) + ", got " + text;
        }
        return "";
      },
      zero_allowed ? "NUMBER>=0" : "NUMBER>0");
}


WorkloadSpec WorkloadArgs::to_spec() const {
  WorkloadSpec s = spec;
  if (!input_shape.empty()) s.input_shape = parse_shape(input_shape, "--input-shape");
  if (!target_shape.empty()) s.target_shape = parse_shape(target_shape, "--target-shape");
  if (!mlp_hidden.empty()) s.mlp.hidden = parse_shape(mlp_hidden, "--mlp-hidden");
  if (!probe_shape.empty()) s.probe_shape = parse_shape(probe_shape, "--probe-shape");
  return s;
}

void add_workload_options(CLI::App& app, WorkloadArgs& a) {
  WorkloadSpec& s = a.spec;
  const char* group = "Workload";
  app.add_option("--model", s.model,
                 "mlp | cnn | resnet | gpt, or a TorchScript file (.pt) saved from Python")
      ->capture_default_str()->group(group);
  app.add_option("--data", s.data,
                 "fashion-mnist (Debian's dataset-fashion-mnist), mnist-idx (IDX files in --data-dir), "
                 "cifar10 (binary batches in --data-dir), tokens (uint16 file, --data-file), npy (NumPy arrays: "
                 "an .npz, or a .npy with --target-file), or synthetic (learnable data shaped for the model)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fashion-mnist", "mnist-idx", "cifar10", "tokens", "npy", "synthetic"}))
      ->group(group);
  app.add_option("--data-dir", s.data_dir, "Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist)")
      ->group(group);
  app.add_option("--data-file", s.data_file,
                 "Token file for --data tokens; for --data npy an .npz (np.savez: arrays x and y, optional x_val "
                 "and y_val) or a .npy of inputs")
      ->group(group);
  app.add_option("--target-file", s.target_file, "--data npy: the .npy of targets when --data-file is a .npy of inputs")
      ->group(group);
  app.add_option("--npy-inputs", s.npy_inputs, "--data npy: the inputs' array name in the .npz (default: x, else inputs)")
      ->group(group);
  app.add_option("--npy-targets", s.npy_targets, "--data npy: the targets' array name in the .npz (default: y, else targets)")
      ->group(group);
  app.add_option("--input-shape", a.input_shape, "One input without the batch dimension, e.g. 3x224x224 (TorchScript models)")
      ->group(group);
  app.add_option("--num-classes", s.num_classes, "Classes the model predicts (TorchScript models, synthetic data)")
      ->check(CLI::Range(1, 1 << 20))->group(group);
  app.add_option("--target-shape", a.target_shape, "Regression target shape, e.g. 10 (implies --loss mse)")->group(group);
  app.add_option("--loss", s.loss,
                 "cross_entropy (default), mse, or model: a TorchScript model whose forward(inputs, targets) "
                 "returns its own training loss (a detector's, a language model's); targets of any shape and dtype "
                 "then come from --data npy as saved")
      ->check(CLI::IsMember({"cross_entropy", "mse", "model"}))->group(group);
  app.add_option("--probe-shape", a.probe_shape,
                 "The memory probe's input shape, one sample without the batch dimension, e.g. 3x640x640: the "
                 "largest your run will see (default: the data's largest extent on every dim that varies, from an "
                 ".npz's lengths or sizes; samples are cut or zero-padded to it). Dims that do not vary between "
                 "samples must match the data's")
      ->group(group);
  app.add_option("--batching", s.batching,
                 "Variable-size data (an .npz with lengths or sizes): padded (random batches, each padded to its own "
                 "largest sample) or bucketed (samples of similar size batched together: less padding, the same "
                 "samples each epoch)")
      ->capture_default_str()->check(CLI::IsMember({"padded", "bucketed"}))->group(group);
  app.add_option("--mlp-hidden", a.mlp_hidden, "mlp hidden widths, e.g. 256x128 (default)")->group(group);
  app.add_option("--resnet-width", s.resnet.width, "resnet channels in the first stage")
      ->capture_default_str()->check(CLI::Range(1, 4096))->group(group);
  app.add_option("--resnet-blocks", s.resnet.blocks_per_stage, "resnet blocks per stage (three stages)")
      ->capture_default_str()->check(CLI::Range(1, 64))->group(group);
  app.add_option("--gpt-vocab", s.gpt.vocab, "gpt vocabulary (raised to the data's)")
      ->capture_default_str()->check(CLI::Range(2, 1 << 20))->group(group);
  app.add_option("--gpt-context", s.gpt.context, "gpt context length in tokens")
      ->capture_default_str()->check(CLI::Range(1, 1 << 16))->group(group);
  app.add_option("--gpt-width", s.gpt.width, "gpt embedding width")
      ->capture_default_str()->check(CLI::Range(1, 1 << 16))->group(group);
  app.add_option("--gpt-depth", s.gpt.depth, "gpt transformer blocks")
      ->capture_default_str()->check(CLI::Range(1, 256))->group(group);
  app.add_option("--gpt-heads", s.gpt.heads, "gpt attention heads (must divide the width)")
      ->capture_default_str()->check(CLI::Range(1, 1024))->group(group);
  app.add_option("--synthetic-train", s.synthetic.train, "synthetic training samples")
      ->capture_default_str()->check(CLI::Range(2, 1 << 26))->group(group);
  app.add_option("--synthetic-val", s.synthetic.validation, "synthetic validation samples")
      ->capture_default_str()->check(CLI::Range(1, 1 << 26))->group(group);

  const char* train = "Training";
  app.add_option("--optimizer", s.optimizer, "sgd (lr 0.01, momentum 0.9), adam (lr 1e-3), adamw (lr 1e-3, weight decay 0.01)")
      ->capture_default_str()->check(CLI::IsMember({"sgd", "adam", "adamw"}))->group(train);
  app.add_option_function<double>("--lr", [&s](const double& v) { s.learning_rate = v; },
                                  "Learning rate (default: the optimizer's)")
      ->check(finite_number(false))->group(train);
  app.add_option_function<double>("--momentum", [&s](const double& v) { s.momentum = v; }, "SGD momentum")
      ->check(CLI::Range(0.0, 0.999999))->group(train);
  app.add_option_function<double>("--weight-decay", [&s](const double& v) { s.weight_decay = v; }, "Weight decay")
      ->check(finite_number(true))->group(train);
  app.add_option("--device", s.device, "auto (CUDA when available), cpu, cuda or cuda:N")
      ->capture_default_str()->group(train);
  app.add_option("--precision", s.precision,
                 "fp32, or autocast mixed precision: bf16 (CPU and CUDA), fp16 (CUDA, with dynamic loss scaling)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "bf16", "fp16"}))->group(train);
  app.add_option("--threads", s.threads, "CPU threads for LibTorch (default: LibTorch's choice)")
      ->check(CLI::Range(1, 1024))->group(train);
  app.add_option_function<std::string>(
         "--jit-optimize", [&s](const std::string& v) { s.jit_optimize = v == "on"; },
         "TorchScript models: on runs them through torch.jit's graph optimisations, as a TorchScript training loop "
         "would (the profiling executor then pays a warm-up at every new batch size, and may keep more memory); "
         "off (default) runs the graph op by op, as eager PyTorch trains the model")
      ->check(CLI::IsMember({"on", "off"}))->group(train);
  app.add_option("--seed", s.seed, "Seed for initial weights, data order and synthetic data")
      ->capture_default_str()->group(train);
}

std::vector<NamedPath> model_and_data_inputs(const WorkloadArgs& args) {
  std::vector<NamedPath> inputs;
  const std::string& model = args.spec.model;
  if (model != "mlp" && model != "cnn" && model != "resnet" && model != "gpt") inputs.push_back({"--model", model});
  if (!args.spec.data_file.empty()) inputs.push_back({"--data-file", args.spec.data_file});
  if (!args.spec.target_file.empty()) inputs.push_back({"--target-file", args.spec.target_file});
  return inputs;
}

}  // namespace batchtune
