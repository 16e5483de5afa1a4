#include "tuner/workload/dataset.hpp"

#include <torch/torch.h>

#include <algorithm>

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

void BatchSampler::bucket_by(torch::Tensor keys, std::int64_t window_batches) {
  TORCH_CHECK(keys.numel() == size_, "bucket_by needs one key per sample");
  TORCH_CHECK(window_batches > 0, "bucket_by needs a window of at least one batch");
  const torch::Tensor k = keys.to(torch::kInt64).contiguous();
  keys_.assign(k.data_ptr<std::int64_t>(), k.data_ptr<std::int64_t>() + size_);
  window_batches_ = window_batches;
  laid_out_for_ = 0;  // the rest of this epoch is laid out at the next batch
}

void BatchSampler::shuffle_range(std::size_t first, std::size_t count) {
  for (std::size_t i = count; i-- > 1;) {
    std::swap(order_[first + i], order_[first + static_cast<std::size_t>(rng_() % (i + 1))]);
  }
}

void BatchSampler::bucket(std::int64_t batch_size, std::size_t lead) {
  laid_out_for_ = batch_size;
  const std::size_t b = static_cast<std::size_t>(batch_size);
  // The first `lead` samples finish a batch begun before; batches start after them.
  const std::size_t start = std::min(order_.size(), position_ + lead);
  const std::size_t window = b * static_cast<std::size_t>(window_batches_);
  for (std::size_t w = start; w < order_.size(); w += window) {
    const auto first = order_.begin() + static_cast<std::ptrdiff_t>(w);
    const auto last = order_.begin() + static_cast<std::ptrdiff_t>(std::min(order_.size(), w + window));
    std::stable_sort(first, last, [&](std::int64_t a, std::int64_t c) {
      return keys_[static_cast<std::size_t>(a)] < keys_[static_cast<std::size_t>(c)];
    });
  }
  // The full batches in a random order (a last, partial one stays last),
  // and each batch's rows shuffled: the ranks of a data-parallel step take
  // row ranges, and sorted rows would give the last rank the largest.
  const std::size_t blocks = (order_.size() - start) / b;
  std::vector<std::size_t> block(blocks);
  for (std::size_t i = 0; i < blocks; ++i) block[i] = i;
  for (std::size_t i = blocks; i-- > 1;) std::swap(block[i], block[static_cast<std::size_t>(rng_() % (i + 1))]);
  std::vector<std::int64_t> laid(order_.begin() + static_cast<std::ptrdiff_t>(start), order_.end());
  for (std::size_t i = 0; i < blocks; ++i) {
    std::copy_n(laid.begin() + static_cast<std::ptrdiff_t>(block[i] * b), b,
                order_.begin() + static_cast<std::ptrdiff_t>(start + i * b));
    shuffle_range(start + i * b, b);
  }
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
  laid_out_for_ = 0;
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
    // Bucketed: lay out what is left of the epoch for this batch size (a new
    // epoch, or a batch size that changed, as at a whole-run branch point).
    if (!keys_.empty() && laid_out_for_ != batch_size) bucket(batch_size, k == 0 ? 0 : static_cast<std::size_t>(batch_size - k));
    out[k] = order_[position_++];
  }
  samples_drawn_ += batch_size;
  return indices;
}

namespace {

// Whether the targets are laid out like the inputs along the dims that may
// be cut or padded, and so follow them: per-position labels of sequences
// (`lengths`: the targets' dim 1 is the inputs' dim 1), or masks of images
// (from the end: every one of the targets' dims past the batch equals the
// inputs' last dims, as [N, H, W] masks for [N, C, H, W] images). Boxes or
// class labels never follow, even where one of their dims happens to equal
// a padded size.
bool targets_follow(const Split& split, const torch::Tensor& x, const torch::Tensor& y) {
  if (y.dim() < 2) return false;
  if (split.extents.defined() && !split.align_end) return y.size(1) == x.size(1);
  if (y.dim() > x.dim()) return false;
  for (std::int64_t i = 1; i < y.dim(); ++i) {
    if (y.size(y.dim() - i) != x.size(x.dim() - i)) return false;
  }
  return true;
}

// The targets' dim that runs along the inputs' dim `axis` where they
// follow the inputs, or -1.
std::int64_t target_axis(const Split& split, const torch::Tensor& x, const torch::Tensor& y, std::int64_t axis) {
  const bool from_start = split.extents.defined() && !split.align_end;
  const std::int64_t t = from_start ? axis : y.dim() - (x.dim() - axis);
  return t >= 1 && t < y.dim() ? t : -1;
}

// `t` cut or zero-padded to `size` along `dim`.
torch::Tensor to_size(const torch::Tensor& t, std::int64_t dim, std::int64_t size) {
  const std::int64_t now = t.size(dim);
  if (size == now) return t;
  if (size < now) return t.slice(dim, 0, size);
  std::vector<std::int64_t> pad(static_cast<std::size_t>(2 * t.dim()), 0);
  pad[static_cast<std::size_t>(2 * (t.dim() - 1 - dim) + 1)] = size - now;  // after, on this dim
  return at::constant_pad_nd(t, pad, 0);
}

// x (and y where `follow`) at `size` along x's dim `axis`.
void resize_axis(const Split& split, torch::Tensor& x, torch::Tensor& y, bool follow, std::int64_t axis,
                 std::int64_t size) {
  if (follow) {
    const std::int64_t ty = target_axis(split, x, y, axis);
    if (ty >= 0) y = to_size(y, ty, size);
  }
  x = to_size(x, axis, size);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> gather(const Split& split, const torch::Tensor& indices) {
  torch::Tensor x = split.inputs.index_select(0, indices);
  torch::Tensor y = split.targets.index_select(0, indices);
  if (split.extents.defined() && indices.numel() > 0) {
    const bool follow = targets_follow(split, x, y);
    const torch::Tensor largest = std::get<0>(split.extents.index_select(0, indices).max(0));
    for (std::size_t k = 0; k < split.varying_axes.size(); ++k) {
      resize_axis(split, x, y, follow, split.varying_axes[k], largest[static_cast<std::int64_t>(k)].item<std::int64_t>());
    }
    // Compact copies: a cut is a view that would keep the whole padded batch
    // alive through the step.
    x = x.contiguous();
    y = y.contiguous();
  }
  return {x, y};
}

std::pair<torch::Tensor, torch::Tensor> gather_at_shape(const Split& split, const torch::Tensor& indices,
                                                        const std::vector<std::int64_t>& sample_shape) {
  torch::Tensor x = split.inputs.index_select(0, indices);
  torch::Tensor y = split.targets.index_select(0, indices);
  TORCH_CHECK(static_cast<std::int64_t>(sample_shape.size()) == x.dim() - 1, "gather_at_shape: a shape of ",
              sample_shape.size(), " dims for samples of ", x.dim() - 1);
  const bool follow = targets_follow(split, x, y);
  for (std::size_t d = 0; d < sample_shape.size(); ++d) {
    resize_axis(split, x, y, follow, static_cast<std::int64_t>(d) + 1, sample_shape[d]);
  }
  return {x.contiguous(), y.contiguous()};
}

torch::Tensor sample_sizes(const Split& split) {
  if (!split.extents.defined()) return {};
  return split.extents.prod(1);
}

torch::Tensor bucket_keys(const Split& split) {
  if (!split.extents.defined()) return {};
  const std::int64_t n = split.extents.size(0), k = split.extents.size(1);
  if (k == 1) return split.extents.select(1, 0).clone();
  // Z-order: the extents' bits interleaved, so samples next to each other in
  // the order are close on every dim (sorting by area would batch a tall
  // image with a wide one and pad both to a square).
  const torch::Tensor e = split.extents.contiguous();
  const auto* v = e.data_ptr<std::int64_t>();
  torch::Tensor keys = torch::zeros({n}, torch::kInt64);
  auto* out = keys.data_ptr<std::int64_t>();
  const int bits = static_cast<int>(62 / k);
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t key = 0;
    for (int b = bits - 1; b >= 0; --b) {
      for (std::int64_t d = 0; d < k; ++d) key = (key << 1) | ((static_cast<std::uint64_t>(v[i * k + d]) >> b) & 1u);
    }
    out[i] = static_cast<std::int64_t>(key);
  }
  return keys;
}

torch::Tensor largest_indices(const Split& split, std::int64_t count) {
  const torch::Tensor order = split.extents.defined() ? torch::argsort(sample_sizes(split), 0, /*descending=*/true)
                                                      : torch::arange(split.size(), torch::kInt64);
  return order.index_select(0, torch::arange(count, torch::kInt64).remainder(split.size()));
}

double padding_share(const Split& split, const torch::Tensor& indices) {
  if (!split.extents.defined() || indices.numel() == 0) return 0.0;
  const torch::Tensor e = split.extents.index_select(0, indices).to(torch::kFloat64);
  const double padded = std::get<0>(e.max(0)).prod().item<double>() * double(indices.numel());
  return padded > 0 ? 1.0 - e.prod(1).sum().item<double>() / padded : 0.0;
}

}  // namespace batchtune
