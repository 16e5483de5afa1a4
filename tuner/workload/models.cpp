#include "tuner/workload/models.hpp"

#include <sys/stat.h>

#include <cerrno>

#include <torch/script.h>
#include <torch/torch.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>

#include <cmath>

#include "reports/util/error.hpp"
#include "tuner/workload/data_readers.hpp"
#include "reports/util/text_util.hpp"

namespace batchtune {

std::int64_t Model::parameter_count() {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

torch::Tensor Model::forward_loss(const torch::Tensor&, const torch::Tensor&) {
  throw UsageError("--loss model needs a model that computes its own loss: a TorchScript file whose "
                   "forward(inputs, targets) returns it");
}

namespace {

namespace nn = torch::nn;

struct MlpImpl : nn::Module {
  MlpImpl(std::int64_t in_features, std::int64_t out_features, const MlpConfig& config) {
    std::int64_t width = in_features;
    for (std::int64_t h : config.hidden) {
      layers->push_back(nn::Linear(width, h));
      layers->push_back(nn::ReLU());
      width = h;
    }
    layers->push_back(nn::Linear(width, out_features));
    register_module("layers", layers);
  }
  torch::Tensor forward(const torch::Tensor& x) { return layers->forward(x.flatten(1)); }
  nn::Sequential layers;
};
TORCH_MODULE(Mlp);

// conv 1->32 3x3, ReLU, conv 32->64 3x3, ReLU, max-pool 2, flatten,
// linear 9216->128, ReLU, linear 128->classes: pytorch/examples mnist, no dropout.
struct CnnImpl : nn::Module {
  explicit CnnImpl(std::int64_t num_classes)
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 32, 3)))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 3)))),
        fc1(register_module("fc1", nn::Linear(9216, 128))),
        fc2(register_module("fc2", nn::Linear(128, num_classes))) {}
  torch::Tensor forward(const torch::Tensor& input) {
    torch::Tensor x = torch::relu(conv1->forward(input));
    x = torch::relu(conv2->forward(x));
    x = torch::max_pool2d(x, 2).flatten(1);
    x = torch::relu(fc1->forward(x));
    return fc2->forward(x);
  }
  nn::Conv2d conv1, conv2;
  nn::Linear fc1, fc2;
};
TORCH_MODULE(Cnn);

struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride)
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)))),
        bn1(register_module("bn1", nn::BatchNorm2d(out))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      shortcut = register_module(
          "shortcut", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                     nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = torch::relu(bn1->forward(conv1->forward(x)));
    y = bn2->forward(conv2->forward(y));
    return torch::relu(y + (shortcut ? shortcut->forward(x) : x));
  }
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

struct ResnetImpl : nn::Module {
  ResnetImpl(std::int64_t in_channels, std::int64_t num_classes, const ResnetConfig& config) {
    const std::int64_t w = config.width;
    stem = register_module("stem", nn::Sequential(
        nn::Conv2d(nn::Conv2dOptions(in_channels, w, 3).padding(1).bias(false)),
        nn::BatchNorm2d(w), nn::ReLU()));
    std::int64_t channels = w;
    for (int stage = 0; stage < 3; ++stage) {
      const std::int64_t out = w << stage;
      for (std::int64_t b = 0; b < config.blocks_per_stage; ++b) {
        blocks->push_back(BasicBlock(channels, out, (stage > 0 && b == 0) ? 2 : 1));
        channels = out;
      }
    }
    register_module("blocks", blocks);
    head = register_module("head", nn::Linear(channels, num_classes));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = blocks->forward(stem->forward(x));
    return head->forward(torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
  }
  nn::Sequential stem{nullptr};
  nn::Sequential blocks;
  nn::Linear head{nullptr};
};
TORCH_MODULE(Resnet);

struct CausalSelfAttentionImpl : nn::Module {
  CausalSelfAttentionImpl(std::int64_t width, std::int64_t heads_, std::int64_t context)
      : heads(heads_),
        qkv(register_module("qkv", nn::Linear(width, 3 * width))),
        proj(register_module("proj", nn::Linear(width, width))) {
    mask = register_buffer("mask", torch::ones({context, context}, torch::kBool).tril());
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto b = x.size(0), t = x.size(1), c = x.size(2), d = c / heads;
    auto parts = qkv->forward(x).view({b, t, 3, heads, d}).permute({2, 0, 3, 1, 4});
    torch::Tensor q = parts[0], k = parts[1], v = parts[2];  // [B, H, T, D]
    torch::Tensor att = q.matmul(k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
    att = att.masked_fill(mask.slice(0, 0, t).slice(1, 0, t).logical_not(), -INFINITY);
    torch::Tensor y = torch::softmax(att, -1).matmul(v);
    return proj->forward(y.transpose(1, 2).reshape({b, t, c}));
  }
  std::int64_t heads;
  nn::Linear qkv, proj;
  torch::Tensor mask;
};
TORCH_MODULE(CausalSelfAttention);

struct TransformerBlockImpl : nn::Module {
  TransformerBlockImpl(std::int64_t width, std::int64_t heads, std::int64_t context)
      : ln1(register_module("ln1", nn::LayerNorm(nn::LayerNormOptions({width})))),
        attn(register_module("attn", CausalSelfAttention(width, heads, context))),
        ln2(register_module("ln2", nn::LayerNorm(nn::LayerNormOptions({width})))),
        fc(register_module("fc", nn::Linear(width, 4 * width))),
        proj(register_module("proj", nn::Linear(4 * width, width))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = x + attn->forward(ln1->forward(x));
    return x + proj->forward(torch::gelu(fc->forward(ln2->forward(x))));
  }
  nn::LayerNorm ln1;
  CausalSelfAttention attn;
  nn::LayerNorm ln2;
  nn::Linear fc, proj;
};
TORCH_MODULE(TransformerBlock);

struct GptImpl : nn::Module {
  explicit GptImpl(const GptConfig& c)
      : context(c.context),
        token_embedding(register_module("token_embedding", nn::Embedding(c.vocab, c.width))),
        position_embedding(register_module("position_embedding", nn::Embedding(c.context, c.width))),
        ln_f(register_module("ln_f", nn::LayerNorm(nn::LayerNormOptions({c.width})))),
        head(register_module("head", nn::Linear(nn::LinearOptions(c.width, c.vocab).bias(false)))) {
    for (std::int64_t i = 0; i < c.depth; ++i) blocks->push_back(TransformerBlock(c.width, c.heads, c.context));
    register_module("blocks", blocks);
  }
  torch::Tensor forward(const torch::Tensor& tokens) {
    const auto t = tokens.size(1);
    TORCH_CHECK(t <= context, "sequence of ", t, " tokens is longer than the context of ", context);
    auto positions = torch::arange(t, torch::TensorOptions().dtype(torch::kInt64).device(tokens.device()));
    torch::Tensor x = token_embedding->forward(tokens) + position_embedding->forward(positions);
    return head->forward(ln_f->forward(blocks->forward(x)));
  }
  std::int64_t context;
  nn::Embedding token_embedding, position_embedding;
  nn::Sequential blocks;
  nn::LayerNorm ln_f;
  nn::Linear head;
};
TORCH_MODULE(Gpt);

class ScriptModel final : public Model {
 public:
  ScriptModel(torch::jit::Module module, std::string path, bool jit_optimize)
      : module_(std::move(module)), path_(std::move(path)), jit_optimize_(jit_optimize) {}
  // forward(inputs, targets) -> the loss: a 0-dim (or one-element)
  // tensor, a tuple whose first item is one (as Hugging Face models return
  // the loss first), or a dict with "loss".
  torch::Tensor forward_loss(const torch::Tensor& input, const torch::Tensor& target) override {
    // forward's schema counts self: (self, inputs, targets) takes both.
    if (module_.get_method("forward").function().getSchema().arguments().size() < 3) {
      throw InputError("--model " + path_ + ": --loss model calls forward(inputs, targets), but its forward takes "
                       "only inputs; give the module a forward(self, x, y) that returns the loss, or drop "
                       "--loss model");
    }
    const TorchScriptOptimization optimization(jit_optimize_);
    const c10::IValue out = module_.forward({input, target});
    torch::Tensor loss;
    if (out.isTensor()) {
      loss = out.toTensor();
    } else if (out.isTuple() && !out.toTupleRef().elements().empty() && out.toTupleRef().elements()[0].isTensor()) {
      loss = out.toTupleRef().elements()[0].toTensor();
    } else if (out.isGenericDict()) {
      for (const auto& item : out.toGenericDict()) {
        if (item.key().isString() && item.key().toStringRef() == "loss" && item.value().isTensor()) {
          loss = item.value().toTensor();
        }
      }
    }
    if (!loss.defined() || loss.numel() != 1) {
      throw InputError("--model " + path_ + ": with --loss model, forward(inputs, targets) must return the batch's "
                       "mean loss (one number: a 0-dim tensor, a tuple with it first, or a dict with \"loss\"); it "
                       "returned " + (loss.defined() ? "a tensor of " + std::to_string(loss.numel()) + " values"
                                                     : std::string(out.tagKind())));
    }
    // (Under no_grad, as in the evaluations, no loss requires a gradient.)
    if (!loss.is_floating_point() || (torch::GradMode::is_enabled() && !loss.requires_grad())) {
      throw InputError("--model " + path_ + ": with --loss model, forward(inputs, targets) returned a loss " +
                       (loss.is_floating_point() ? std::string("that does not depend on the parameters (detached, or "
                                                               "computed under no_grad)")
                                                 : "of integer type " + std::string(c10::toString(loss.scalar_type()))) +
                       ": training needs a floating-point loss computed from the model's outputs; return it without "
                       ".detach(), .item() or an integer cast");
    }
    return loss.reshape({});
  }
  torch::Tensor forward(const torch::Tensor& input) override {
    if (!checked_arity_) {
      // forward(self, inputs, targets) with no default for targets: a model
      // that computes its own loss, run as if it returned outputs.
      int required = 0;
      const auto& args = module_.get_method("forward").function().getSchema().arguments();
      for (std::size_t i = 1; i < args.size(); ++i) {
        if (!args[i].default_value()) ++required;
      }
      if (required >= 2) {
        throw InputError("--model " + path_ + ": its forward takes " + std::to_string(required) +
                         " inputs (inputs and targets?), and batchtune called forward(inputs): a model that "
                         "computes its own loss from forward(inputs, targets) needs --loss model");
      }
      checked_arity_ = true;
    }
    const TorchScriptOptimization optimization(jit_optimize_);
    const c10::IValue out = module_.forward({input});
    if (!out.isTensor()) {
      throw InputError("--model " + path_ + ": forward returns " + out.tagKind() +
                       ", not a tensor; batchtune needs forward(x) -> Tensor (return the logits, or wrap the model)");
    }
    return out.toTensor();
  }
  std::vector<torch::Tensor> parameters() override {
    std::vector<torch::Tensor> params;
    for (const auto& p : module_.parameters()) params.push_back(p);
    return params;
  }
  std::vector<torch::Tensor> buffers() override {
    std::vector<torch::Tensor> out;
    for (const auto& b : module_.buffers()) out.push_back(b);
    return out;
  }
  void set_training(bool on) override { module_.train(on); }
  void to(const torch::Device& device) override { module_.to(device); }

 private:
  torch::jit::Module module_;
  std::string path_;
  bool jit_optimize_ = false;
  bool checked_arity_ = false;  // forward's arguments looked at (once)
};

}  // namespace

std::unique_ptr<Model> make_mlp(std::int64_t in_features, std::int64_t out_features, const MlpConfig& config) {
  return std::make_unique<ModuleModel<Mlp>>(Mlp(in_features, out_features, config));
}

std::unique_ptr<Model> make_cnn(std::int64_t num_classes) {
  return std::make_unique<ModuleModel<Cnn>>(Cnn(num_classes));
}

std::unique_ptr<Model> make_resnet(std::int64_t in_channels, std::int64_t num_classes, const ResnetConfig& config) {
  return std::make_unique<ModuleModel<Resnet>>(Resnet(in_channels, num_classes, config));
}

std::unique_ptr<Model> make_gpt(const GptConfig& config) {
  return std::make_unique<ModuleModel<Gpt>>(Gpt(config));
}

TorchScriptOptimization::TorchScriptOptimization(bool enabled) : previous_(torch::jit::getGraphExecutorOptimize()) {
  torch::jit::setGraphExecutorOptimize(enabled);
}

TorchScriptOptimization::~TorchScriptOptimization() { torch::jit::setGraphExecutorOptimize(previous_); }

ModelFactory torchscript_factory(const std::string& path, bool jit_optimize) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    throw InputError("--model " + path + ": no such file; give a built-in model (mlp, cnn, resnet, gpt) "
                     "or a TorchScript file saved with torch.jit.script(model).save(path)");
  }
  require_path(path, PathKind::file, "--model");
  // The TensorExpr fuser compiles a kernel with LLVM for every input shape it
  // profiles; the probe and the sweep show a TorchScript model many batch
  // sizes, and on LibTorch 2.6 (Debian 13) a traced MLP then took over 100 s
  // for 200 steps that take 0.1 s without it. Off for the whole process (a
  // program using the C++ API loses the fusion of its own scripted models
  // while batchtune runs); LibTorch runs the unfused graph op by op, as
  // eager PyTorch would train the model.
  torch::jit::setTensorExprFuserEnabled(false);
  try {
    auto prototype = std::make_shared<torch::jit::Module>(torch::jit::load(path, torch::kCPU));
    return [prototype, path, jit_optimize]() -> std::unique_ptr<Model> {
      // Cloned under autograd the copies would be non-leaf tensors, which an
      // optimizer refuses; clone without it and restore requires_grad as saved.
      torch::jit::Module copy = [&] {
        torch::NoGradGuard no_grad;
        return prototype->clone();
      }();
      auto original = prototype->parameters().begin();
      for (auto p : copy.parameters()) {
        p.requires_grad_((*original).requires_grad());
        ++original;
      }
      auto model = std::make_unique<ScriptModel>(std::move(copy), path, jit_optimize);
      model->set_training(true);
      return model;
    };
  } catch (const c10::Error& e) {
    const std::string why = first_line(e.what_without_backtrace());
    const bool pt2 = path.size() > 4 && path.compare(path.size() - 4, 4, ".pt2") == 0;
    if (pt2 || why.find("exported_program") != std::string::npos) {
      // torch.export's archive (PyTorch 2.x) holds a graph for AOT compilers,
      // not a module LibTorch can train.
      throw InputError("--model " + path + ": a torch.export program (.pt2), not TorchScript; LibTorch cannot "
                       "train it. Save the same module with torch.jit.script(model).save(\"model.pt\") or "
                       "torch.jit.trace(model, example).save(\"model.pt\")");
    }
    throw InputError("--model " + path + ": not a readable TorchScript file (" + why +
                     "); export it with torch.jit.script(model).save(path) or torch.jit.trace");
  }
}

}  // namespace batchtune
