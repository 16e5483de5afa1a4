#include "tuner/workload/synthetic_data.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

namespace batchtune {
namespace {

constexpr std::int64_t kTeacherHidden = 64;
// Noise around each class prototype: classes overlap, so the loss falls
// gradually rather than to zero in a few steps.
constexpr double kNoise = 2.0;

std::vector<std::int64_t> with_batch(std::int64_t n, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> s{n};
  s.insert(s.end(), shape.begin(), shape.end());
  return s;
}

struct Teacher {
  torch::Tensor w1, w2;
  torch::Tensor operator()(const torch::Tensor& x) const {
    return torch::tanh(x.flatten(1).matmul(w1)).matmul(w2);
  }
};

Teacher make_teacher(std::int64_t in_features, std::int64_t out_features, at::Generator& gen) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  Teacher t;
  t.w1 = at::randn({in_features, kTeacherHidden}, gen, opts) / std::sqrt(double(in_features)) * 2.0;
  t.w2 = at::randn({kTeacherHidden, out_features}, gen, opts) / std::sqrt(double(kTeacherHidden));
  return t;
}

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

}  // namespace

Dataset make_prototype_classification(const std::vector<std::int64_t>& sample_shape,
                                      std::int64_t num_classes, SyntheticSizes sizes,
                                      std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  // One prototype per class. Images get smooth prototypes (a 4x4 random grid
  // per channel, upsampled), so convolutions and pooling can tell them apart
  // as they would real objects; other shapes get plain Gaussian prototypes.
  torch::Tensor prototypes;
  if (sample_shape.size() == 3 && sample_shape[1] >= 4 && sample_shape[2] >= 4) {
    prototypes = at::randn({num_classes, sample_shape[0], 4, 4}, gen, torch::kFloat32);
    prototypes = torch::upsample_bilinear2d(prototypes, {sample_shape[1], sample_shape[2]}, false);
  } else {
    prototypes = at::randn(with_batch(num_classes, sample_shape), gen, torch::kFloat32);
  }
  auto draw = [&](std::int64_t n) {
    torch::Tensor labels = at::randint(num_classes, {n}, gen, torch::kInt64);
    torch::Tensor noise = at::randn(with_batch(n, sample_shape), gen, torch::kFloat32) * kNoise;
    return Split{prototypes.index_select(0, labels) + noise, labels};
  };
  Dataset d;
  d.name = "synthetic";
  d.source = "class prototypes plus Gaussian noise (sd " + std::to_string(kNoise).substr(0, 4) + "), seed " +
             std::to_string(seed);
  d.task = TaskKind::classification;
  d.sample_shape = sample_shape;
  d.num_classes = num_classes;
  d.train = draw(sizes.train);
  d.validation = draw(sizes.validation);
  d.validation_note = "drawn apart from the training samples, from the same seed";
  return d;
}

Dataset make_teacher_regression(const std::vector<std::int64_t>& sample_shape,
                                const std::vector<std::int64_t>& target_shape,
                                SyntheticSizes sizes, std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const Teacher teacher = make_teacher(numel(sample_shape), numel(target_shape), gen);
  auto draw = [&](std::int64_t n) {
    torch::Tensor x = at::randn(with_batch(n, sample_shape), gen, torch::kFloat32);
    torch::Tensor y = teacher(x) + 0.05 * at::randn({n, numel(target_shape)}, gen, torch::kFloat32);
    return Split{x, y.reshape(with_batch(n, target_shape))};
  };
  Dataset d;
  d.name = "synthetic";
  d.source = "random teacher network, seed " + std::to_string(seed);
  d.task = TaskKind::regression;
  d.sample_shape = sample_shape;
  d.target_shape = target_shape;
  d.train = draw(sizes.train);
  d.validation = draw(sizes.validation);
  d.validation_note = "drawn apart from the training samples, from the same seed";
  return d;
}

namespace {
torch::Tensor stationary_distribution(const torch::Tensor& transition) {
  const auto v = transition.size(0);
  torch::Tensor pi = torch::full({1, v}, 1.0 / double(v), torch::kFloat64);
  const torch::Tensor p = transition.to(torch::kFloat64);
  for (int i = 0; i < 1000; ++i) pi = pi.matmul(p);
  return pi.squeeze(0);
}
}  // namespace

double markov_entropy_rate(const torch::Tensor& transition) {
  const torch::Tensor p = transition.to(torch::kFloat64);
  const torch::Tensor row_entropy = -(p * p.clamp_min(1e-300).log()).sum(1);
  return (stationary_distribution(transition) * row_entropy).sum().item<double>();
}

Dataset make_markov_tokens(std::int64_t vocab, std::int64_t context, SyntheticSizes sizes,
                           std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  // Peaked rows (logit scale 3) make a chain well below log(vocab) in entropy,
  // so there is structure to learn.
  const torch::Tensor transition = torch::softmax(at::randn({vocab, vocab}, gen, torch::kFloat32) * 3.0, 1);
  const torch::Tensor stationary = stationary_distribution(transition);
  auto draw = [&](std::int64_t n) {
    torch::Tensor seq = torch::empty({n, context + 1}, torch::kInt64);
    // Start in the stationary distribution, so every position's floor is the entropy rate.
    torch::Tensor state = at::multinomial(stationary.to(torch::kFloat32), n, true, gen);
    seq.select(1, 0).copy_(state);
    for (std::int64_t t = 1; t <= context; ++t) {
      state = at::multinomial(transition.index_select(0, state), 1, false, gen).squeeze(1);
      seq.select(1, t).copy_(state);
    }
    return Split{seq.slice(1, 0, context).contiguous(), seq.slice(1, 1, context + 1).contiguous()};
  };
  Dataset d;
  d.name = "synthetic";
  d.source = "random Markov chain over " + std::to_string(vocab) + " tokens, seed " + std::to_string(seed);
  d.task = TaskKind::language_model;
  d.sample_shape = {context};
  d.num_classes = vocab;
  d.train = draw(sizes.train);
  d.validation = draw(sizes.validation);
  d.loss_floor = markov_entropy_rate(transition);
  d.validation_note = "drawn apart from the training samples, from the same seed";
  return d;
}

}  // namespace batchtune
