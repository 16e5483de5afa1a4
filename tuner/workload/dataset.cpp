#include "tuner/workload/dataset.hpp"

#include <torch/torch.h>

namespace batchtune {

std::string shape_to_string(const std::vector<std::int64_t>& shape) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

BatchSampler::BatchSampler(std::int64_t dataset_size, std::uint64_t seed)
    : size_(dataset_size), rng_(seed), order_(static_cast<std::size_t>(dataset_size)) {
  TORCH_CHECK(dataset_size > 0, "BatchSampler needs a non-empty split");
  reshuffle();
}

void BatchSampler::reshuffle() {
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::int64_t>(i);
  // Fisher-Yates with our own index draw: std::shuffle's algorithm differs
  // between standard libraries, this does not.
  for (std::size_t i = order_.size() - 1; i > 0; --i) {
    const std::size_t j = static_cast<std::size_t>(rng_() % (i + 1));
    std::swap(order_[i], order_[j]);
  }
  position_ = 0;
}

torch::Tensor BatchSampler::next(std::int64_t batch_size) {
  TORCH_CHECK(batch_size > 0, "batch size must be positive");
  auto indices = torch::empty({batch_size}, torch::kInt64);
  auto* out = indices.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < batch_size; ++k) {
    if (position_ == order_.size()) {
      ++epoch_;
      reshuffle();
    }
    out[k] = order_[position_++];
  }
  samples_drawn_ += batch_size;
  return indices;
}

std::pair<torch::Tensor, torch::Tensor> gather(const Split& split, const torch::Tensor& indices) {
  torch::Tensor x = split.inputs.index_select(0, indices);
  torch::Tensor y = split.targets.index_select(0, indices);
  if (split.lengths.defined() && indices.numel() > 0) {
    const std::int64_t longest = split.lengths.index_select(0, indices).max().item<std::int64_t>();
    const std::int64_t padded = x.size(1);
    x = x.slice(1, 0, longest);
    if (y.dim() >= 2 && y.size(1) == padded) y = y.slice(1, 0, longest);  // per-position targets
  }
  return {x, y};
}

torch::Tensor longest_indices(const Split& split, std::int64_t count) {
  const torch::Tensor order = split.lengths.defined() ? torch::argsort(split.lengths, 0, /*descending=*/true)
                                                      : torch::arange(split.size(), torch::kInt64);
  return order.index_select(0, torch::arange(count, torch::kInt64).remainder(split.size()));
}

}  // namespace batchtune
