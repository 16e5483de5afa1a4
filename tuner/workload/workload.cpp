#include "tuner/workload/workload.hpp"

#include <dlfcn.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "reports/util/error.hpp"
#include "reports/util/text_util.hpp"
#include "tuner/workload/data_readers.hpp"
#include "tuner/workload/machine_probe.hpp"

namespace batchtune {
namespace {

const std::vector<std::string> kBuiltinModels{"mlp", "cnn", "resnet", "gpt"};
const std::vector<std::string> kDataNames{"fashion-mnist", "mnist-idx", "cifar10", "tokens", "npy", "synthetic"};

bool is_builtin(const std::string& model) {
  return std::find(kBuiltinModels.begin(), kBuiltinModels.end(), model) != kBuiltinModels.end();
}

bool looks_like_path(const std::string& model) {
  auto ends_with = [&](const std::string& suffix) {
    return model.size() > suffix.size() && model.compare(model.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return model.find('/') != std::string::npos || ends_with(".pt") || ends_with(".pth") || ends_with(".pt2") ||
         ends_with(".ts") || ends_with(".torchscript");
}

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const char* task_name(TaskKind t) {
  switch (t) {
    case TaskKind::classification: return "classification";
    case TaskKind::regression: return "regression";
    case TaskKind::language_model: return "language_model";
    case TaskKind::model_defined: return "model_defined";
  }
  return "?";
}

Dataset load_data(const WorkloadSpec& spec, LossKind loss, bool user_model) {
  const std::string& data = spec.data;
  if (std::find(kDataNames.begin(), kDataNames.end(), data) == kDataNames.end()) {
    throw UsageError("--data " + data + ": unknown dataset; choose fashion-mnist, mnist-idx, cifar10, tokens, npy or synthetic");
  }
  if (data != "npy") {
    // Options that only --data npy reads would otherwise be ignored without a word.
    for (const auto& [option, value] : {std::pair{"--target-file", spec.target_file},
                                        std::pair{"--npy-inputs", spec.npy_inputs},
                                        std::pair{"--npy-targets", spec.npy_targets}}) {
      if (!value.empty()) throw UsageError(std::string(option) + " is for --data npy, not --data " + data);
    }
  }
  if (data == "npy") {
    return load_npy_dataset({spec.data_file, spec.target_file, spec.npy_inputs, spec.npy_targets},
                            loss == LossKind::mse, spec.seed, loss == LossKind::model);
  }
  if (data == "fashion-mnist") return load_idx_dataset(spec.data_dir.empty() ? kFashionMnistDir : spec.data_dir, data);
  if (data == "mnist-idx") {
    if (spec.data_dir.empty()) throw UsageError("--data mnist-idx needs --data-dir, the folder with the IDX files");
    return load_idx_dataset(spec.data_dir, data);
  }
  if (data == "cifar10") {
    if (spec.data_dir.empty()) throw UsageError("--data cifar10 needs --data-dir, the folder with data_batch_1.bin ...");
    return load_cifar10(spec.data_dir);
  }
  if (data == "tokens") {
    if (spec.data_file.empty()) throw UsageError("--data tokens needs --data-file, a file of uint16 tokens");
    return load_token_file(spec.data_file, spec.gpt.context, 0.1);
  }
  // synthetic: shaped after the model.
  if (spec.model == "gpt") return make_markov_tokens(spec.gpt.vocab, spec.gpt.context, spec.synthetic, spec.seed);
  std::vector<std::int64_t> shape = spec.input_shape;
  if (shape.empty()) {
    if (user_model) {
      throw UsageError("--model " + spec.model + " with --data synthetic needs --input-shape (e.g. 3x224x224), "
                       "the shape of one input without the batch dimension");
    }
    shape = spec.model == "resnet" ? std::vector<std::int64_t>{3, 32, 32} : std::vector<std::int64_t>{1, 28, 28};
  }
  {
    // Generated data lives in memory: refuse a shape it cannot hold before
    // allocating (100000x100000x1000 would overflow or abort).
    double sample_bytes = 4;
    for (auto d : shape) sample_bytes *= double(d);
    const double samples = double(spec.synthetic.train + spec.synthetic.validation);
    std::string source;
    const double usable = double(usable_memory_bytes(&source));
    if (sample_bytes * samples > 0.5 * usable) {
      throw UsageError("--input-shape " + shape_to_string(shape) + ": one sample is " +
                       format_bytes(static_cast<std::uint64_t>(std::min(sample_bytes, 1.8e19))) + ", and " +
                       std::to_string(static_cast<long long>(samples)) + " synthetic samples would need " +
                       format_bytes(static_cast<std::uint64_t>(std::min(sample_bytes * samples, 1.8e19))) +
                       ", more than half of the " + format_bytes(static_cast<std::uint64_t>(usable)) +
                       " this process may use; use a smaller shape or --synthetic-train/--synthetic-val");
    }
  }
  if (loss == LossKind::mse) {
    if (spec.target_shape.empty()) {
      throw UsageError("--loss mse with --data synthetic needs --target-shape, the shape of one target");
    }
    return make_teacher_regression(shape, spec.target_shape, spec.synthetic, spec.seed);
  }
  if (user_model && spec.num_classes == 0) {
    throw UsageError("--model " + spec.model + " with --data synthetic needs --num-classes N "
                     "(or --loss mse with --target-shape)");
  }
  return make_prototype_classification(shape, spec.num_classes > 0 ? spec.num_classes : 10, spec.synthetic, spec.seed);
}

ModelFactory builtin_factory(const WorkloadSpec& spec, const Dataset& data, const torch::Device& device) {
  const std::string& m = spec.model;
  const std::string shape = shape_to_string(data.sample_shape);
  if (m == "gpt") {
    if (data.task != TaskKind::language_model) {
      throw UsageError("--model gpt needs token data (--data tokens, npy with integer inputs and targets of one "
                       "shape, or synthetic); --data " + spec.data + " holds " +
                       (data.task == TaskKind::regression ? "regression targets" : "class labels"));
    }
    GptConfig config = spec.gpt;
    if (data.num_classes > config.vocab) {
      throw InputError("--data " + spec.data + " (" + data.source + ") holds token id " +
                       std::to_string(data.num_classes - 1) + ", outside --gpt-vocab " + std::to_string(config.vocab) +
                       " (ids 0 to " + std::to_string(config.vocab - 1) + "); pass --gpt-vocab " +
                       std::to_string(data.num_classes) + " or more");
    }
    if (data.sample_shape.size() == 1 && data.sample_shape[0] > config.context) {
      throw UsageError("--gpt-context " + std::to_string(config.context) + " is shorter than the " +
                       std::to_string(data.sample_shape[0]) + "-token rows of --data " + spec.data + " (" + data.source +
                       "); pass --gpt-context " + std::to_string(data.sample_shape[0]));
    }
    if (config.width % config.heads != 0) {
      throw UsageError("--gpt-width " + std::to_string(config.width) + " is not divisible by --gpt-heads " +
                       std::to_string(config.heads));
    }
    return [config] { return make_gpt(config); };
  }
  if (data.task == TaskKind::language_model) {
    throw UsageError("--model " + m + " cannot train on token data; use --model gpt");
  }
  const std::int64_t outputs = data.task == TaskKind::regression ? numel(data.target_shape) : data.num_classes;
  if (m == "mlp") {
    const MlpConfig config = spec.mlp;
    const std::int64_t in = numel(data.sample_shape);
    // Weights, gradients and optimizer state: refuse widths this machine
    // cannot hold before allocating them.
    double params = 0, width = double(in);
    for (auto h : config.hidden) {
      params += width * double(h) + double(h);
      width = double(h);
    }
    params += width * double(outputs) + double(outputs);
    const double need = params * 4 * 4;
    const double usable = double(usable_memory_bytes());
    if (device.is_cpu() && need > usable) {
      std::string hidden;
      for (auto h : config.hidden) hidden += (hidden.empty() ? "" : "x") + std::to_string(h);
      throw UsageError("--mlp-hidden " + hidden + ": " + std::to_string(static_cast<long long>(params)) +
                       " parameters need about " + format_bytes(static_cast<std::uint64_t>(std::min(need, 1.8e19))) +
                       " with gradients and optimizer state, more than the " +
                       format_bytes(static_cast<std::uint64_t>(usable)) + " this process may use; use smaller widths");
    }
    return [in, outputs, config] { return make_mlp(in, outputs, config); };
  }
  if (m == "cnn") {
    if (data.sample_shape != std::vector<std::int64_t>{1, 28, 28}) {
      throw InputError("--model cnn takes 1x28x28 inputs (the MNIST example architecture); --data " + spec.data +
                       " gives " + shape + "; use --model resnet or mlp");
    }
    return [outputs] { return make_cnn(outputs); };
  }
  // resnet
  if (data.sample_shape.size() != 3) {
    throw InputError("--model resnet takes CxHxW images; --data " + spec.data + " gives " + shape);
  }
  const ResnetConfig config = spec.resnet;
  const std::int64_t channels = data.sample_shape[0];
  return [channels, outputs, config] { return make_resnet(channels, outputs, config); };
}

// Class labels must be 0..K-1 for the loss. A label past --num-classes is
// refused; without --num-classes, labels that skip most values below their
// maximum (a corrupt label byte of 255 in a 10-class set) would silently
// make a 256-class task, and are refused too.
void check_labels(const WorkloadSpec& spec, Dataset& data) {
  const torch::Tensor all = torch::cat({data.train.targets.flatten(), data.validation.targets.flatten()});
  const std::int64_t lowest = all.min().item<std::int64_t>();
  const std::int64_t highest = all.max().item<std::int64_t>();
  const std::string where = "--data " + spec.data + " (" + data.source + ")";
  if (lowest < 0) throw InputError(where + " holds the negative label " + std::to_string(lowest));
  if (spec.num_classes > 0) {
    if (highest >= spec.num_classes) {
      const auto count = (all >= spec.num_classes).sum().item<std::int64_t>();
      throw InputError(where + " holds label " + std::to_string(highest) + " (" + std::to_string(count) +
                       " labels of " + std::to_string(all.numel()) + " are " + std::to_string(spec.num_classes) +
                       " or more), outside --num-classes " + std::to_string(spec.num_classes) +
                       "; fix the labels or raise --num-classes");
    }
    data.num_classes = spec.num_classes;
    return;
  }
  const auto distinct = std::get<0>(at::_unique(all)).numel();
  if (highest + 1 > 2 * distinct && highest + 1 > distinct + 1) {
    throw InputError(where + " holds labels up to " + std::to_string(highest) + " but only " +
                     std::to_string(distinct) + " distinct values; a corrupt label file? Pass --num-classes K to "
                     "train on K classes anyway, or fix the labels");
  }
}

}  // namespace

std::string describe_model_error(const std::exception& e) {
  const auto* ce = dynamic_cast<const c10::Error*>(&e);
  const std::string what = ce ? ce->what_without_backtrace() : e.what();
  // The TorchScript interpreter puts its own first line and two tracebacks
  // before the error the model raised ("RuntimeError: Expected more than 1
  // value per channel when training...", "builtins.ValueError: ..."): that
  // last "SomethingError: text" line is the cause.
  std::string cause;
  std::size_t pos = 0;
  while (pos < what.size()) {
    const std::size_t end = std::min(what.find('\n', pos), what.size());
    const std::string line = what.substr(pos, end - pos);
    const std::size_t colon = line.find(": ");
    if (colon != std::string::npos && colon > 0 && line[0] != ' ') {
      const std::string head = line.substr(0, colon);
      const bool is_name = std::all_of(head.begin(), head.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '.';
      });
      const auto ends_with = [&](const std::string& suffix) {
        return head.size() >= suffix.size() && head.compare(head.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      if (is_name && (ends_with("Error") || ends_with("Exception"))) cause = line;
    }
    pos = end + 1;
  }
  if (cause.empty()) return first_line(what);
  const std::string runtime = "RuntimeError: ";
  if (cause.compare(0, runtime.size(), runtime) == 0) cause = cause.substr(runtime.size());
  return cause;
}

OptimizerSettings resolve_optimizer(const std::string& name, std::optional<double> lr,
                                    std::optional<double> momentum, std::optional<double> weight_decay) {
  OptimizerSettings s;
  if (name == "sgd") {
    s = {OptimizerKind::sgd, 0.01, 0.9, 0.0};
  } else if (name == "adam") {
    s = {OptimizerKind::adam, 1e-3, 0.0, 0.0};
  } else if (name == "adamw") {
    s = {OptimizerKind::adamw, 1e-3, 0.0, 0.01};
  } else {
    throw UsageError("--optimizer " + name + ": unknown optimizer; choose sgd, adam or adamw");
  }
  if (lr) {
    if (!(*lr > 0)) throw UsageError("--lr must be positive, got " + std::to_string(*lr));
    s.learning_rate = *lr;
  }
  if (momentum) {
    if (s.kind != OptimizerKind::sgd) throw UsageError("--momentum applies to --optimizer sgd only");
    if (*momentum < 0 || *momentum >= 1) throw UsageError("--momentum must be in [0, 1)");
    s.momentum = *momentum;
  }
  if (weight_decay) {
    if (*weight_decay < 0) throw UsageError("--weight-decay must not be negative");
    s.weight_decay = *weight_decay;
  }
  return s;
}

std::vector<std::string> workload_to_args(const WorkloadSpec& s) {
  auto num = [](auto v) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    return o.str();
  };
  std::vector<std::string> a{"--model", s.model, "--data", s.data, "--optimizer", s.optimizer,
                             "--device", s.device, "--seed", num(s.seed), "--precision", s.precision};
  if (!s.data_dir.empty()) a.insert(a.end(), {"--data-dir", s.data_dir});
  if (!s.data_file.empty()) a.insert(a.end(), {"--data-file", s.data_file});
  if (!s.target_file.empty()) a.insert(a.end(), {"--target-file", s.target_file});
  if (!s.npy_inputs.empty()) a.insert(a.end(), {"--npy-inputs", s.npy_inputs});
  if (!s.npy_targets.empty()) a.insert(a.end(), {"--npy-targets", s.npy_targets});
  if (!s.input_shape.empty()) a.insert(a.end(), {"--input-shape", shape_to_string(s.input_shape)});
  if (!s.target_shape.empty()) a.insert(a.end(), {"--target-shape", shape_to_string(s.target_shape)});
  if (s.num_classes > 0) a.insert(a.end(), {"--num-classes", num(s.num_classes)});
  if (!s.loss.empty()) a.insert(a.end(), {"--loss", s.loss});
  if (!s.probe_shape.empty()) a.insert(a.end(), {"--probe-shape", shape_to_string(s.probe_shape)});
  if (s.batching != "padded") a.insert(a.end(), {"--batching", s.batching});
  a.insert(a.end(), {"--mlp-hidden", shape_to_string(s.mlp.hidden), "--resnet-width", num(s.resnet.width),
                     "--resnet-blocks", num(s.resnet.blocks_per_stage), "--gpt-vocab", num(s.gpt.vocab),
                     "--gpt-context", num(s.gpt.context), "--gpt-width", num(s.gpt.width), "--gpt-depth",
                     num(s.gpt.depth), "--gpt-heads", num(s.gpt.heads), "--synthetic-train",
                     num(s.synthetic.train), "--synthetic-val", num(s.synthetic.validation)});
  if (s.learning_rate) a.insert(a.end(), {"--lr", num(*s.learning_rate)});
  if (s.momentum) a.insert(a.end(), {"--momentum", num(*s.momentum)});
  if (s.weight_decay) a.insert(a.end(), {"--weight-decay", num(*s.weight_decay)});
  if (s.threads > 0) a.insert(a.end(), {"--threads", num(s.threads)});
  if (s.jit_optimize) a.insert(a.end(), {"--jit-optimize", "on"});
  return a;
}

std::vector<std::int64_t> parse_shape(const std::string& text, const std::string& option) {
  std::vector<std::int64_t> shape;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find_first_of("x,", pos), text.size());
    const std::string part = text.substr(pos, end - pos);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits || part.size() > 12 || std::stoll(part) == 0) {
      throw UsageError(option + " " + text + ": expected positive sizes separated by 'x', such as 3x224x224");
    }
    shape.push_back(std::stoll(part));
    pos = end + 1;
  }
  return shape;
}

torch::Device resolve_device(const std::string& text) {
  if (text == "cpu") return torch::kCPU;
  if (text == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  int index = 0;
  if (text == "cuda") {
    index = 0;
  } else if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
             std::all_of(text.begin() + 5, text.end(), [](unsigned char c) { return std::isdigit(c); }) &&
             text.size() < 9) {
    index = std::stoi(text.substr(5));
  } else {
    throw UsageError("--device " + text + ": choose auto, cpu, cuda or cuda:N");
  }
  if (!torch::cuda::is_available()) {
#if defined(BATCHTUNE_WITH_CUDA)
    throw DeviceError("--device " + text + ": no CUDA device answers on this machine (driver missing or no GPU); use --device cpu");
#else
    throw DeviceError("--device " + text + ": this batchtune was built against a LibTorch without CUDA; "
                      "rebuild with a CUDA LibTorch (README, Development) or use --device cpu");
#endif
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw DeviceError("--device " + text + ": this machine has " + std::to_string(count) + " CUDA device(s), cuda:0 to cuda:" +
                      std::to_string(count - 1));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

Workload::Workload(WorkloadSpec spec, Dataset data, ModelFactory factory, torch::Device device, LossKind loss,
                   OptimizerSettings optimizer)
    : spec_(std::move(spec)),
      data_(std::move(data)),
      factory_(std::move(factory)),
      device_(device),
      loss_(loss),
      optimizer_(optimizer) {}

namespace {
// OpenBLAS keeps a thread pool of its own (one thread per core), beside
// LibTorch's intra-op threads. Two cases hold it:
// - `--threads N`: the user's N bounds every thread that computes. Left to
//   itself, OpenBLAS ran each GEMM on 2 threads under `--threads 1`, and
//   beside two busy processes on a 2-core VM its workers' spin-waits made
//   steps 20-50x slower than on a quiet machine (the whole-run tune's timing
//   pass read mlp at batch 16 52 ms against 1 ms), where one thread is
//   slowed about as much as the CPU it is given.
// - LibTorch 2.x with more than one intra-op thread on a pthread OpenBLAS
//   (Debian 13: libtorch 2.6 with libopenblas0-pthread, which
//   scripts/setup.sh installs): each of LibTorch's OpenMP threads calls into
//   OpenBLAS, whose own threads then spin against them. Measured on a 2-core
//   VM, the default mlp at 2 intra-op threads ran 206 samples/s at batch 8
//   where one thread ran 18,207 (and 1,938 against 84,085 at 64); with
//   OpenBLAS held to one thread, 18,619 and 74,909. LibTorch 1.13 (Debian
//   12) shows no such contention and loses 13-28% on GEMM-bound steps with
//   OpenBLAS held to one, so its default is left alone.
// OPENBLAS_NUM_THREADS, where set, wins. A build without OpenBLAS (MKL, the
// reference BLAS) has no such symbol: nothing happens.
void settle_blas_threads(int requested_threads) {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
  int blas_threads = 0;  // 0: leave OpenBLAS's own
  if (requested_threads > 0) blas_threads = requested_threads;
#if TORCH_VERSION_MAJOR >= 2
  if (at::get_num_threads() > 1) blas_threads = 1;
#endif
  if (blas_threads <= 0) return;
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(blas_threads);
}
}  // namespace

Workload Workload::create(const WorkloadSpec& spec) {
  if (spec.threads < 0) throw UsageError("--threads must be positive");
  const torch::Device device = resolve_device(spec.device);
  if (spec.threads > 0) at::set_num_threads(spec.threads);
  settle_blas_threads(spec.threads);

  const bool user_model = !is_builtin(spec.model);
  if (user_model && !looks_like_path(spec.model)) {
    throw UsageError("--model " + spec.model + ": unknown model; choose mlp, cnn, resnet, gpt, or give the path "
                     "of a TorchScript file (.pt)");
  }
  LossKind loss = LossKind::cross_entropy;
  if (spec.loss == "model") {
    if (!user_model) {
      throw UsageError("--loss model: the built-in --model " + spec.model + " has no loss of its own; give a "
                       "TorchScript file whose forward(inputs, targets) returns the loss");
    }
    loss = LossKind::model;
  } else if (spec.loss == "mse") {
    loss = LossKind::mse;
  } else if (spec.loss.empty()) {
    loss = spec.target_shape.empty() ? LossKind::cross_entropy : LossKind::mse;
  } else if (spec.loss != "cross_entropy") {
    throw UsageError("--loss " + spec.loss + ": unknown loss; choose cross_entropy, mse or model");
  }
  const OptimizerSettings optimizer =
      resolve_optimizer(spec.optimizer, spec.learning_rate, spec.momentum, spec.weight_decay);
  // Load the model file before the data: a bad model path should not wait for a dataset.
  ModelFactory script = user_model ? torchscript_factory(spec.model, spec.jit_optimize) : ModelFactory{};

  Dataset data = load_data(spec, loss, user_model);
  if (spec.data == "npy" && data.task == TaskKind::regression && loss != LossKind::model) {
    // NumPy arrays say what they are: floating targets are regression targets.
    if (spec.loss == "cross_entropy") {
      throw UsageError("--loss cross_entropy needs class labels; --data npy (" + data.source + ") has floating "
                       "targets, which are regression targets: save labels as integers (y.astype(np.int64))");
    }
    loss = LossKind::mse;
    if (!spec.target_shape.empty() && spec.target_shape != data.target_shape) {
      throw UsageError("--target-shape " + shape_to_string(spec.target_shape) + " does not match --data npy, whose "
                       "targets are " + shape_to_string(data.target_shape));
    }
  }
  if (loss == LossKind::mse && data.task != TaskKind::regression) {
    throw UsageError("--loss mse needs regression targets; --data " + spec.data + " has class labels");
  }
  if (data.task == TaskKind::classification && spec.data != "synthetic" && loss != LossKind::model) {
    check_labels(spec, data);
  }
  if (user_model && !spec.input_shape.empty() && spec.input_shape != data.sample_shape) {
    throw UsageError("--input-shape " + shape_to_string(spec.input_shape) + " does not match --data " + spec.data +
                     ", whose inputs are " + shape_to_string(data.sample_shape));
  }
  if (!spec.probe_shape.empty() && spec.probe_shape.size() != data.sample_shape.size()) {
    throw UsageError("--probe-shape " + shape_to_string(spec.probe_shape) + " has " +
                     std::to_string(spec.probe_shape.size()) + " dims; one input of --data " + spec.data + " has " +
                     std::to_string(data.sample_shape.size()) + " (" + shape_to_string(data.sample_shape) +
                     "): name every dim, such as " + shape_to_string(data.sample_shape));
  }
  if (!spec.probe_shape.empty()) {
    // The probe is the worst case: each dim that varies across samples at
    // least the data's largest, and every dim that does not (images'
    // channels, a sequence's features, a fixed image size) exactly the
    // data's; otherwise the model's error (or a probe that verified less
    // memory than training needs, or more than it ever will) would be what
    // the user sees.
    std::vector<std::int64_t> largest = data.sample_shape;
    std::vector<bool> varies(largest.size(), false);
    for (std::size_t k = 0; k < data.train.varying_axes.size() && k < data.max_extent.size(); ++k) {
      const auto d = static_cast<std::size_t>(data.train.varying_axes[k] - 1);
      if (d < largest.size()) {
        largest[d] = data.max_extent[k];
        varies[d] = true;
      }
    }
    for (std::size_t d = 0; d < largest.size(); ++d) {
      const std::int64_t named = spec.probe_shape[d];
      if (!varies[d] && named != largest[d]) {
        std::string varying;
        for (std::size_t k = 0; k < varies.size(); ++k) {
          if (varies[k]) varying += (varying.empty() ? "" : ", ") + std::to_string(k + 1);
        }
        throw UsageError("--probe-shape " + shape_to_string(spec.probe_shape) + ": dim " + std::to_string(d + 1) +
                         " is " + std::to_string(named) + ", but every input of --data " + spec.data + " has " +
                         std::to_string(largest[d]) + " there (its inputs are " + shape_to_string(data.sample_shape) +
                         "); " +
                         (varying.empty()
                              ? "its inputs all have one shape, which the probe already trains at: leave --probe-shape out"
                              : "name " + shape_to_string(largest) + ", larger only on the dims that vary between "
                                "samples (" + varying + ")"));
      }
      if (named < largest[d]) {
        throw UsageError("--probe-shape " + shape_to_string(spec.probe_shape) + ": dim " + std::to_string(d + 1) +
                         " is " + std::to_string(named) + ", below the " + std::to_string(largest[d]) +
                         " the largest input of --data " + spec.data + " has there: the probe would verify memory "
                         "for smaller inputs than training feeds; name at least " + shape_to_string(largest) +
                         " (or leave --probe-shape out: the probe then trains at the data's largest)");
      }
    }
  }
  if (spec.batching == "bucketed" && !data.train.extents.defined()) {
    throw UsageError("--batching bucketed groups samples of similar size; --data " + spec.data +
                     " has samples of one shape (" + shape_to_string(data.sample_shape) +
                     "): save an .npz with lengths (sequences) or sizes (images), or leave --batching out");
  }
  ModelFactory factory = user_model ? script : builtin_factory(spec, data, device);

  Workload w(spec, std::move(data), std::move(factory), device, loss, optimizer);
  w.precision_ = parse_precision(spec.precision, device);

  w.check_model("--model " + spec.model);
  return w;
}

void Workload::check_model(const std::string& model_name) {
  // Does the model take these inputs and give outputs the loss can use?
  const std::string input = shape_to_string(data_.sample_shape);
  const std::string data_name = from_spec_ ? "--data " + spec_.data : "the data (" + data_.name + ")";
  auto model = make_model();
  try {
    torch::NoGradGuard no_grad;
    const auto idx = torch::arange(std::min<std::int64_t>(2, data_.validation.size()), torch::kInt64);
    auto [x, y] = gather(data_.validation, idx);
    AutocastScope autocast(device_, precision_);
    if (loss_ == LossKind::model) {
      // The model's own loss decides what targets it takes; it must give one finite number.
      // In training mode (as trained) and in eval mode (as evaluated): a
      // model that returns its loss only while training fails here, not in
      // the middle of a sweep.
      for (const bool training : {true, false}) {
        model->set_training(training);
        torch::Tensor l;
        try {
          l = model->forward_loss(x.to(device_), y.to(device_));
        } catch (const Error&) {
          throw;
        } catch (const std::exception& e) {
          throw InputError(model_name + ": forward(inputs, targets) failed in " + (training ? "training" : "eval") +
                           " mode on two validation samples of " + data_name + " (targets of shape " +
                           shape_to_string(y.sizes().vec()) + "): " + describe_model_error(e) +
                           (training ? "" : "; batchtune evaluates in eval mode and needs the loss there too"));
        }
        if (!std::isfinite(l.item<double>())) {
          throw InputError(model_name + ": forward(inputs, targets) returned a loss that is not finite in " +
                           (training ? "training" : "eval") + " mode on two validation samples of " + data_name +
                           " (targets of shape " + shape_to_string(y.sizes().vec()) + ")");
        }
      }
      // With gradients on, as in a training step: a loss that is detached
      // or integer fails here, with its own words, not in the probe's first trial.
      {
        torch::AutoGradMode grad(true);
        model->set_training(true);
        (void)model->forward_loss(x.to(device_), y.to(device_));
      }
      model->set_training(true);
    } else if (const torch::Tensor output = model->forward(x.to(device_)); custom_loss_) {
      // A program's own loss decides what outputs it takes; it must give one number.
      const torch::Tensor l = custom_loss_(output, y.to(device_));
      if (l.numel() != 1) {
        throw InputError("the loss (" + loss_name_ + ") returns a tensor of shape " + shape_to_string(l.sizes().vec()) +
                         " for " + model_name + "'s outputs; it must return the batch's mean loss, one number");
      }
    } else {
      std::vector<std::int64_t> expected{x.size(0)};
      if (data_.task == TaskKind::classification) expected.push_back(data_.num_classes);
      if (data_.task == TaskKind::language_model) {
        expected.push_back(x.size(1));
        expected.push_back(data_.num_classes);
      }
      if (data_.task == TaskKind::regression) expected = y.sizes().vec();
      const auto got = output.sizes().vec();
      const bool ok = data_.task == TaskKind::language_model
                          ? (got.size() == 3 && got[0] == expected[0] && got[1] == expected[1] && got[2] >= expected[2])
                          : got == expected;
      if (!ok && data_.task == TaskKind::classification && got.size() == 2 && got[0] == expected[0] &&
          got[1] < expected[1]) {
        throw InputError(model_name + " outputs " + std::to_string(got[1]) + " classes, but " + data_name +
                         " holds labels up to " + std::to_string(data_.num_classes - 1) +
                         "; fix the labels or export the model with " + std::to_string(data_.num_classes) +
                         " outputs");
      }
      if (!ok) {
        throw InputError(model_name + " outputs " + shape_to_string(got) + " for a batch of " +
                         std::to_string(x.size(0)) + " inputs of " + input + "; the loss needs " +
                         shape_to_string(expected) +
                         (data_.task == TaskKind::classification && from_spec_
                              ? " (set --num-classes to the model's outputs)"
                              : ""));
      }
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(model_name + " cannot take inputs of shape " + input + " (from " + data_name +
                     "): " + describe_model_error(e));
  }
  std::int64_t trainable = 0;
  for (const auto& p : model->parameters()) {
    if (p.requires_grad()) trainable += p.numel();
  }
  if (trainable == 0) {
    throw InputError(model_name + " has no trainable parameters (" +
                     std::to_string(model->parameters().size()) + " tensors, all frozen or none); batchtune trains "
                     "the model, so unfreeze some (requires_grad=True) before exporting it");
  }
  parameter_count_ = model->parameter_count();
}

Workload Workload::from_parts(WorkloadParts parts) {
  if (!parts.model) throw UsageError("the workload has no model factory");
  if (parts.threads < 0) throw UsageError("threads must be positive");
  const torch::Device device = resolve_device(parts.device);
  if (parts.threads > 0) at::set_num_threads(parts.threads);
  settle_blas_threads(parts.threads);
  Dataset& d = parts.data;
  if (d.train.size() < 1 || d.validation.size() < 1) {
    throw InputError("the data (" + d.name + ") needs at least one training and one validation sample");
  }
  LossKind loss = d.task == TaskKind::regression ? LossKind::mse : LossKind::cross_entropy;
  OptimizerSettings optimizer = parts.optimizer_settings;
  if (!(optimizer.learning_rate > 0) || !std::isfinite(optimizer.learning_rate)) {
    throw UsageError("the learning rate must be a positive finite number, got " +
                     std::to_string(optimizer.learning_rate));
  }
  if (parts.optimizer) optimizer.kind = OptimizerKind::custom;
  WorkloadSpec spec;
  spec.model = parts.model_name;
  spec.data = d.name;
  spec.device = parts.device;
  spec.precision = parts.precision;
  spec.threads = parts.threads;
  spec.seed = parts.seed;
  spec.learning_rate = optimizer.learning_rate;
  Workload w(spec, std::move(parts.data), std::move(parts.model), device, loss, optimizer);
  w.from_spec_ = false;
  w.precision_ = parse_precision(parts.precision, device);
  w.custom_loss_ = std::move(parts.loss);
  w.loss_name_ = w.custom_loss_ ? (parts.loss_name.empty() ? "custom" : parts.loss_name) : "";
  w.custom_optimizer_ = std::move(parts.optimizer);
  w.optimizer_name_ = w.custom_optimizer_ ? (parts.optimizer_name.empty() ? "custom" : parts.optimizer_name) : "";
  w.check_model(parts.model_name);
  return w;
}

std::unique_ptr<Model> Workload::make_model(std::uint64_t seed) const {
  torch::manual_seed(seed);  // built-ins: the same initial weights every time
  std::unique_ptr<Model> model = factory_();
  model->to(device_);
  model->set_training(true);
  return model;
}

std::unique_ptr<torch::optim::Optimizer> Workload::make_optimizer(Model& model, double learning_rate) const {
  const auto params = model.parameters();
  switch (optimizer_.kind) {
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(learning_rate).momentum(optimizer_.momentum).weight_decay(optimizer_.weight_decay));
    case OptimizerKind::adam:
      return std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(learning_rate).weight_decay(optimizer_.weight_decay));
    case OptimizerKind::adamw:
      return std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(learning_rate).weight_decay(optimizer_.weight_decay));
    case OptimizerKind::custom:
      return custom_optimizer_(params, learning_rate);
  }
  throw RuntimeFailure("unknown optimizer");
}

torch::Tensor Workload::batch_loss(Model& model, const torch::Tensor& inputs, const torch::Tensor& targets) const {
  if (loss_ == LossKind::model) return model.forward_loss(inputs, targets);
  return loss(model.forward(inputs), targets);
}

torch::Tensor Workload::loss(const torch::Tensor& output, const torch::Tensor& target) const {
  if (custom_loss_) return custom_loss_(output, target);
  if (loss_ == LossKind::mse) return torch::mse_loss(output, target);
  if (data_.task == TaskKind::language_model) {
    return torch::nn::functional::cross_entropy(output.reshape({-1, output.size(-1)}), target.reshape({-1}));
  }
  return torch::nn::functional::cross_entropy(output, target);
}

std::pair<torch::Tensor, torch::Tensor> Workload::next_batch(BatchSampler& sampler, std::int64_t batch_size) const {
  auto [x, y] = gather(data_.train, sampler.next(batch_size));
  if (device_.is_cpu()) return {x, y};
  return {x.to(device_), y.to(device_)};
}

BatchSampler Workload::make_sampler(std::uint64_t seed) const {
  BatchSampler sampler(data_.train.size(), seed);
  if (spec_.batching == "bucketed" && data_.train.extents.defined()) sampler.bucket_by(bucket_keys(data_.train));
  return sampler;
}

std::optional<double> Workload::padding_share(BatchSampler sampler, std::int64_t batch_size,
                                              std::int64_t steps) const {
  if (!data_.train.extents.defined() || steps <= 0 || batch_size <= 0) return std::nullopt;
  double sum = 0;
  for (std::int64_t i = 0; i < steps; ++i) sum += batchtune::padding_share(data_.train, sampler.next(batch_size));
  return sum / double(steps);
}

std::vector<std::int64_t> Workload::probe_shape() const {
  if (!spec_.probe_shape.empty()) return spec_.probe_shape;
  std::vector<std::int64_t> shape = data_.sample_shape;
  const auto& axes = data_.train.varying_axes;
  for (std::size_t k = 0; k < axes.size() && k < data_.max_extent.size(); ++k) {
    shape[static_cast<std::size_t>(axes[k] - 1)] = data_.max_extent[k];
  }
  return shape;
}

std::pair<torch::Tensor, torch::Tensor> Workload::probe_batch(BatchSampler& sampler, std::int64_t batch_size) const {
  if (!data_.train.extents.defined() && spec_.probe_shape.empty()) return next_batch(sampler, batch_size);
  // The largest samples at the worst case: the data's largest extent on
  // every varying dim at once (a batch can hold the tallest image and the
  // widest), or the shape the user named.
  auto [x, y] = gather_at_shape(data_.train, largest_indices(data_.train, batch_size), probe_shape());
  if (device_.is_cpu()) return {x, y};
  return {x.to(device_), y.to(device_)};
}

std::pair<torch::Tensor, torch::Tensor> Workload::next_batch_rows(BatchSampler& sampler, std::int64_t batch_size,
                                                                   std::int64_t begin, std::int64_t end) const {
  auto [x, y] = gather(data_.train, sampler.next(batch_size).slice(0, begin, end));
  if (device_.is_cpu()) return {x, y};
  return {x.to(device_), y.to(device_)};
}

Evaluation Workload::evaluate(Model& model, std::int64_t max_samples, std::int64_t batch_size) const {
  return evaluate_on(data_.validation, model, max_samples, batch_size);
}

Evaluation Workload::evaluate_training(Model& model, std::int64_t max_samples, std::int64_t batch_size) const {
  const std::int64_t n = data_.train.size();
  if (max_samples <= 0 || max_samples >= n) return evaluate_on(data_.train, model, 0, batch_size);
  // Evenly spread over the split, not its first rows: a file sorted by class
  // would otherwise be measured on one class.
  const torch::Tensor idx = torch::arange(max_samples, torch::kInt64).mul(n / max_samples);
  Split spread = data_.train;
  spread.inputs = data_.train.inputs.index_select(0, idx);
  spread.targets = data_.train.targets.index_select(0, idx);
  if (data_.train.extents.defined()) spread.extents = data_.train.extents.index_select(0, idx);
  return evaluate_on(spread, model, 0, batch_size);
}

Evaluation Workload::evaluate_on(const Split& split, Model& model, std::int64_t max_samples,
                                 std::int64_t batch_size) const {
  const std::int64_t n = max_samples > 0 ? std::min(max_samples, split.size()) : split.size();
  torch::NoGradGuard no_grad;
  model.set_training(false);
  double loss_sum = 0, correct = 0, predictions = 0;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t end = std::min(n, start + batch_size);
    // gather: a variable-length batch is cut to its own longest sample.
    auto [xs, ys] = gather(split, torch::arange(start, end, torch::kInt64));
    torch::Tensor x = xs.to(device_);
    torch::Tensor y = ys.to(device_);
    if (loss_ == LossKind::model) {
      // The model's own loss; accuracy means nothing without knowing its outputs.
      AutocastScope autocast(device_, precision_);
      loss_sum += model.forward_loss(x, y).to(torch::kFloat32).item<double>() * static_cast<double>(end - start);
      continue;
    }
    torch::Tensor out;
    {
      AutocastScope autocast(device_, precision_);
      out = model.forward(x).to(torch::kFloat32);
    }
    loss_sum += loss(out, y).item<double>() * static_cast<double>(end - start);
    if (data_.task != TaskKind::regression && out.dim() == y.dim() + 1) {
      correct += out.argmax(-1).eq(y).sum().item<double>();
      predictions += static_cast<double>(y.numel());
    }
  }
  model.set_training(true);
  Evaluation e;
  e.samples = n;
  e.loss = n > 0 ? loss_sum / static_cast<double>(n) : 0.0;
  if (predictions > 0) e.accuracy = correct / predictions;
  return e;
}

WorkloadInfo Workload::info() const {
  WorkloadInfo w;
  w.model = spec_.model;
  w.parameter_count = parameter_count_;
  w.data = data_.name;
  w.data_source = data_.source;
  w.train_samples = data_.train.size();
  w.validation_samples = data_.validation.size();
  w.validation_split = data_.validation_note;
  w.input_shape = data_.sample_shape;
  w.task = task_name(data_.task);
  w.num_classes = data_.num_classes;
  w.loss_floor = data_.loss_floor;
  w.loss = custom_loss_              ? loss_name_
           : loss_ == LossKind::mse   ? "mse"
           : loss_ == LossKind::model ? "model"
                                      : "cross_entropy";
  switch (optimizer_.kind) {
    case OptimizerKind::sgd: w.optimizer = "sgd"; break;
    case OptimizerKind::adam: w.optimizer = "adam"; break;
    case OptimizerKind::adamw: w.optimizer = "adamw"; break;
    case OptimizerKind::custom: w.optimizer = optimizer_name_; break;
  }
  w.learning_rate = optimizer_.learning_rate;
  w.momentum = optimizer_.momentum;
  w.weight_decay = optimizer_.weight_decay;
  w.device = device_.str();
  w.precision = precision_name(precision_);
  w.seed = spec_.seed;
  return w;
}

void drain_autograd(const torch::Device& device) {
  try {
    auto x = torch::ones({1}, torch::TensorOptions().device(device).requires_grad(true));
    (x * 2).sum().backward();
  } catch (const std::exception&) {
    // Nothing more to do: the next step will show what is still held.
  }
}

torch::Tensor train_step(Model& model, torch::optim::Optimizer& optimizer, const Workload& workload,
                         const torch::Tensor& inputs, const torch::Tensor& targets, LossScaler* scaler) {
  optimizer.zero_grad();
  torch::Tensor loss;
  {
    AutocastScope autocast(workload.device(), workload.precision());
    loss = workload.batch_loss(model, inputs, targets).to(torch::kFloat32);
  }
  if (workload.precision() == Precision::fp16) {
    TORCH_CHECK(scaler != nullptr, "fp16 training needs a LossScaler");
    scaler->backward_and_step(loss, optimizer);
  } else {
    loss.backward();
    optimizer.step();
  }
  return loss.detach();
}

}  // namespace batchtune
