#include "tuner/run/workload_trainer.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "probes/cuda_adapter.hpp"
#include "probes/oom.hpp"
#include "probes/torch_compat.hpp"
#include "reports/util/error.hpp"
#include "tuner/run/noise_scale.hpp"

namespace batchtune {
namespace {

using clock_type = std::chrono::steady_clock;
// A loss this many times the first is an explosion (as the sweep's arms judge it).
constexpr double kExplosion = 1000.0;

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) probes::cuda_synchronize(device.index());
}

}  // namespace

struct WorkloadTrainer::Snapshot {
  std::vector<torch::Tensor> parameters;
  std::vector<torch::Tensor> buffers;
  std::string optimizer_state;  // the optimizer's own archive
  BatchSampler sampler;
  LossScaler scaler;
  double first_loss = 0;
};

WorkloadTrainer::WorkloadTrainer(const Workload& workload, std::int64_t eval_samples, probes::MemoryMeter* meter)
    : workload_(workload), eval_samples_(eval_samples), meter_(meter) {}

WorkloadTrainer::~WorkloadTrainer() = default;

void WorkloadTrainer::reset(std::uint64_t seed) {
  snapshots_.clear();
  spreads_.clear();
  restored_ = -1;
  optimizer_.reset();
  model_ = workload_.make_model(seed);
  optimizer_ = workload_.make_optimizer(*model_, workload_.optimizer().learning_rate);
  sampler_ = std::make_unique<BatchSampler>(workload_.make_sampler(seed));
  scaler_ = LossScaler{};
  first_loss_ = 0;
  clear_averages();
}

plan::StepOutcome WorkloadTrainer::step(std::int64_t batch, double lr) {
  plan::StepOutcome o;
  restored_ = -1;
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
  try {
    if (meter_) meter_->begin_trial();
    const auto t0 = clock_type::now();
    auto [x, y] = workload_.next_batch(*sampler_, batch);
    synchronize(workload_.device());
    o.loss = train_step(*model_, *optimizer_, workload_, x, y, &scaler_).item<double>();
    o.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  } catch (const std::exception& e) {
    drain_autograd(workload_.device());
    o.status = probes::is_out_of_memory(e) ? ArmStatus::out_of_memory : ArmStatus::failed;
    o.message = "a step at batch " + std::to_string(batch) + ": " + describe_model_error(e);
    return o;
  }
  for (auto& a : averages_) {
    if (a.count == 0) continue;
    torch::NoGradGuard no_grad;
    ++a.count;
    const auto params = model_->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) a.parameters[i].lerp_(params[i].detach(), 1.0 / double(a.count));
  }
  if (first_loss_ == 0) first_loss_ = o.loss;
  if (!std::isfinite(o.loss) || o.loss > kExplosion * std::max(first_loss_, 1.0)) {
    o.status = ArmStatus::diverged;
    std::ostringstream m;
    m << "training loss became " << o.loss << " at batch " << batch << " (learning rate " << lr << ")";
    o.message = m.str();
  }
  return o;
}

plan::EvalOutcome WorkloadTrainer::evaluate() {
  const Evaluation e = workload_.evaluate(*model_, eval_samples_, 512);
  return plan::EvalOutcome{e.loss, e.accuracy};
}

bool WorkloadTrainer::begin_average(int slot) {
  if (slot < 0 || slot >= kAverageSlots) return false;
  for (const auto& b : model_->buffers()) {
    if (b.is_floating_point()) return false;
  }
  torch::NoGradGuard no_grad;
  Average& a = averages_[static_cast<std::size_t>(slot)];
  a.parameters.clear();
  for (const auto& p : model_->parameters()) a.parameters.push_back(p.detach().clone());
  a.count = 1;
  return true;
}

std::optional<plan::EvalOutcome> WorkloadTrainer::evaluate_average(int slot) {
  if (slot < 0 || slot >= kAverageSlots) return std::nullopt;
  const Average& a = averages_[static_cast<std::size_t>(slot)];
  if (a.count == 0) return std::nullopt;
  auto params = model_->parameters();
  std::vector<torch::Tensor> current;
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      current.push_back(params[i].detach().clone());
      params[i].copy_(a.parameters[i]);
    }
  }
  const auto put_back = [&] {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(current[i]);
  };
  Evaluation e;
  try {
    e = workload_.evaluate(*model_, eval_samples_, 512);
  } catch (...) {
    put_back();
    throw;
  }
  put_back();
  return plan::EvalOutcome{e.loss, e.accuracy};
}

int WorkloadTrainer::save() {
  auto s = std::make_unique<Snapshot>(Snapshot{{}, {}, {}, *sampler_, scaler_, first_loss_});
  torch::NoGradGuard no_grad;
  for (const auto& p : model_->parameters()) s->parameters.push_back(p.detach().clone());
  for (const auto& b : model_->buffers()) s->buffers.push_back(b.detach().clone());
  try {
    torch::serialize::OutputArchive archive;
    optimizer_->save(archive);
    std::ostringstream bytes;
    archive.save_to(bytes);
    s->optimizer_state = bytes.str();
  } catch (const std::exception& e) {
    throw UsageError(std::string("the whole-run tune keeps the optimizer's state at branch points, and this "
                                 "optimizer's cannot be saved (") + describe_model_error(e) +
                     "); use sgd, adam or adamw, or run sweep without --epochs/--train-samples");
  }
  snapshots_.push_back(std::move(s));
  spreads_.emplace_back();
  return static_cast<int>(snapshots_.size()) - 1;
}

void WorkloadTrainer::restore(int snapshot) {
  const Snapshot& s = *snapshots_.at(static_cast<std::size_t>(snapshot));
  {
    torch::NoGradGuard no_grad;
    auto params = model_->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
      params[i].copy_(s.parameters[i]);
      if (params[i].grad().defined()) params[i].mutable_grad() = torch::Tensor();
    }
    auto buffers = model_->buffers();
    for (std::size_t i = 0; i < buffers.size() && i < s.buffers.size(); ++i) buffers[i].copy_(s.buffers[i]);
  }
  // A fresh optimizer over the same parameters, its state loaded from the
  // archive: the momentum (or moments) exactly as they were.
  optimizer_ = workload_.make_optimizer(*model_, workload_.optimizer().learning_rate);
  torch::serialize::InputArchive archive;
  std::istringstream bytes(s.optimizer_state);
  archive.load_from(bytes);
  optimizer_->load(archive);
  *sampler_ = s.sampler;
  scaler_ = s.scaler;
  first_loss_ = s.first_loss;
  clear_averages();
  restored_ = snapshot;
}

namespace {

// Adam's and AdamW's moments for one parameter (undefined where it has none yet).
struct AdamMoments {
  torch::Tensor first, second, second_max;
};

AdamMoments adam_moments(torch::optim::Optimizer& optimizer, const torch::Tensor& p) {
  torch::optim::OptimizerParamState* state = probes::optimizer_state_of(optimizer, p);
  if (auto* s = dynamic_cast<torch::optim::AdamParamState*>(state)) {
    return {s->exp_avg(), s->exp_avg_sq(), s->max_exp_avg_sq()};
  }
  if (auto* s = dynamic_cast<torch::optim::AdamWParamState*>(state)) {
    return {s->exp_avg(), s->exp_avg_sq(), s->max_exp_avg_sq()};
  }
  return {};
}

// beta1 of an Adam or AdamW optimizer; none for others.
std::optional<double> adam_beta1(const torch::optim::Optimizer& optimizer) {
  if (const auto* adam = dynamic_cast<const torch::optim::Adam*>(&optimizer)) {
    return std::get<0>(static_cast<const torch::optim::AdamOptions&>(adam->defaults()).betas());
  }
  if (const auto* adamw = dynamic_cast<const torch::optim::AdamW*>(&optimizer)) {
    return std::get<0>(static_cast<const torch::optim::AdamWOptions&>(adamw->defaults()).betas());
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> WorkloadTrainer::rescale_momentum(double factor) {
  if (const auto beta1 = adam_beta1(*optimizer_)) {
    // Adam's first moment: the update is lr m / sqrt(v), so scaling m by
    // the trunk's rate over the arm's makes the arm's first step the trunk's.
    bool any = false;
    torch::NoGradGuard no_grad;
    for (const auto& p : model_->parameters()) {
      const AdamMoments m = adam_moments(*optimizer_, p);
      if (!m.first.defined()) continue;
      m.first.mul_(factor);
      any = true;
    }
    if (!any) return std::nullopt;
    return beta1;
  }
  auto* sgd = dynamic_cast<torch::optim::SGD*>(optimizer_.get());
  if (sgd == nullptr) return std::nullopt;
  bool any = false;
  torch::NoGradGuard no_grad;
  for (auto& [key, state] : sgd->state()) {
    auto* s = dynamic_cast<torch::optim::SGDParamState*>(state.get());
    if (s == nullptr || !s->momentum_buffer().defined()) continue;
    s->momentum_buffer().mul_(factor);
    any = true;
  }
  if (!any) return std::nullopt;
  const auto& options = static_cast<const torch::optim::SGDOptions&>(sgd->defaults());
  return options.momentum();
}

std::optional<WorkloadTrainer::GradientSpread> WorkloadTrainer::measure_spread(std::int64_t batch) {
  // kMicroBatches gradients at the current weights from a copy of the
  // sampler (the arm's data order is unchanged); per tensor the sum of the
  // gradients and of their squared norms give the micro-batches' sample
  // variance (tr Sigma at this batch) and |mean|^2 less its noise (|mu|^2).
  constexpr int kMicroBatches = 16;
  BatchSampler sampler = *sampler_;
  const std::vector<torch::Tensor> params = model_->parameters();
  // Training-mode forwards move batch-norm statistics: put them back after.
  std::vector<torch::Tensor> buffers;
  for (const auto& buffer : model_->buffers()) buffers.push_back(buffer.detach().clone());
  const auto put_back_buffers = [&] {
    torch::NoGradGuard no_grad;
    auto now = model_->buffers();
    for (std::size_t i = 0; i < now.size() && i < buffers.size(); ++i) now[i].copy_(buffers[i]);
  };
  std::vector<torch::Tensor> sum(params.size());
  std::vector<double> sum_sq(params.size(), 0.0);
  try {
    if (meter_) meter_->begin_trial();
    for (int k = 0; k < kMicroBatches; ++k) {
      batch_squared_gradient_norm(workload_, *model_, sampler, batch);
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (!params[i].grad().defined()) continue;
        const torch::Tensor g = params[i].grad().detach().to(torch::kFloat64);
        sum_sq[i] += g.pow(2).sum().item<double>();
        sum[i] = sum[i].defined() ? sum[i].add_(g) : g.clone();
      }
    }
  } catch (const std::exception&) {
    drain_autograd(workload_.device());
    zero_gradients(params);
    put_back_buffers();
    return std::nullopt;
  }
  zero_gradients(params);
  put_back_buffers();
  GradientSpread spread;
  spread.batch = batch;
  const double k = kMicroBatches;
  for (std::size_t i = 0; i < params.size(); ++i) {
    double mean_sq = 0, noise = 0;
    if (sum[i].defined()) {
      const double mean_norm_sq = sum[i].div(k).pow(2).sum().item<double>();
      noise = std::max(0.0, (sum_sq[i] - k * mean_norm_sq) / (k - 1.0));
      mean_sq = std::max(0.0, mean_norm_sq - noise / k);
    }
    if (!std::isfinite(mean_sq) || !std::isfinite(noise)) return std::nullopt;
    spread.mean_sq.push_back(mean_sq);
    spread.noise.push_back(noise);
  }
  return spread;
}

std::optional<double> WorkloadTrainer::relevel_second_moment(std::int64_t trunk_batch, std::int64_t arm_batch) {
  if (!adam_beta1(*optimizer_)) return std::nullopt;
  if (restored_ < 0) return std::nullopt;  // the spread belongs to a branch point's weights
  auto& cached = spreads_.at(static_cast<std::size_t>(restored_));
  if (!cached || cached->batch != trunk_batch) cached = measure_spread(trunk_batch);
  if (!cached) return std::nullopt;
  const std::vector<torch::Tensor> params = model_->parameters();
  const double b = double(trunk_batch), big = double(arm_batch);
  double weighted = 0, entries = 0;
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const AdamMoments m = adam_moments(*optimizer_, params[i]);
    if (!m.second.defined()) continue;
    const double mu = cached->mean_sq[i], noise = cached->noise[i];
    // E|g_B|^2 / E|g_b|^2 = (|mu|^2 + tr Sigma_b b / B) / (|mu|^2 + tr Sigma_b),
    // between b / B (noise only) and 1 (no noise).
    double factor = mu + noise > 0 ? (mu + noise * b / big) / (mu + noise) : 1.0;
    factor = std::clamp(factor, std::min(1.0, b / big), std::max(1.0, b / big));
    m.second.mul_(factor);
    if (m.second_max.defined() && m.second_max.numel() > 0) m.second_max.mul_(factor);
    // m by sqrt(factor): the update m / sqrt(v) at the branch stays the
    // trunk's; only the steps after it are normalised by the arm's noise.
    if (m.first.defined()) m.first.mul_(std::sqrt(factor));
    weighted += factor * double(params[i].numel());
    entries += double(params[i].numel());
  }
  if (entries == 0) return std::nullopt;
  return weighted / entries;
}

std::optional<plan::GradientNorms> WorkloadTrainer::gradient_norms(std::int64_t small_batch, std::int64_t large_batch) {
  // Batches from a copy of the sampler: the trunk's data order is unchanged.
  BatchSampler sampler = *sampler_;
  const std::vector<torch::Tensor> params = model_->parameters();
  auto norm_at = [&](std::int64_t batch) { return batch_squared_gradient_norm(workload_, *model_, sampler, batch); };
  plan::GradientNorms n;
  n.small_batch = small_batch;
  n.large_batch = large_batch;
  try {
    if (meter_) meter_->begin_trial();
    n.small_norm_sq = norm_at(small_batch);
    n.large_norm_sq = norm_at(large_batch);
  } catch (const std::exception&) {
    drain_autograd(workload_.device());
    zero_gradients(params);
    return std::nullopt;
  }
  zero_gradients(params);
  if (!std::isfinite(n.small_norm_sq) || !std::isfinite(n.large_norm_sq)) return std::nullopt;
  return n;
}

}  // namespace batchtune
