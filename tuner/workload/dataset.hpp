// In-memory datasets and the batch sampler every workload draws from.
// A Dataset holds a training split and a validation split that never overlap;
// BatchSampler draws batches of any size without replacement within an epoch,
// reshuffling each epoch from the seed.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace batchtune {

// model_defined: targets of any shape and dtype that only the model's own
// loss interprets (--loss model): boxes, masks, several tensors packed in one.
enum class TaskKind { classification, regression, language_model, model_defined };

struct Split {
  torch::Tensor inputs;   // [N, ...] float, or [N, T] int64 tokens
  torch::Tensor targets;  // [N] int64 labels, [N, ...] float, or [N, T] int64 tokens
  // Variable-size samples: each sample's valid extent along `varying_axes`
  // of the inputs, which are padded to the largest. From an .npz `lengths`
  // array (N,): dim 1 (sequences); from `sizes` (N, k): the last k dims
  // (images: height and width). A batch is cut to its own largest extent on
  // each axis (padded per batch), and targets padded like the inputs along
  // the same axis (per-token labels, masks) with them. Undefined: fixed-size
  // samples.
  torch::Tensor extents{};                 // [N, k] int64
  std::vector<std::int64_t> varying_axes{};  // k input dims (of the batched tensor)
  bool align_end{false};                   // targets' matching dims counted from the end (sizes) or the start (lengths)
  std::int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
};

struct Dataset {
  std::string name;           // "fashion-mnist", "synthetic", ...
  std::string source;         // where it came from: a folder, a file, or the generator
  TaskKind task = TaskKind::classification;
  std::vector<std::int64_t> sample_shape;  // one input, without the batch dimension
  std::int64_t num_classes = 0;            // classes, or vocabulary size for tokens
  std::vector<std::int64_t> target_shape;  // regression: one target's shape
  Split train;
  Split validation;
  // Synthetic token data from a known Markov chain: its entropy rate in nats
  // per token, the floor of the achievable cross-entropy loss.
  std::optional<double> loss_floor;
  std::string validation_note;  // how the validation split was made
  // Variable-size samples: the largest and the mean extent on each varying
  // axis over both splits ("length" for sequences, "size" for images);
  // empty for fixed-size samples.
  std::vector<std::int64_t> max_extent;
  std::vector<double> mean_extent;
  std::string extent_name;
};

// "3x224x224" <-> {3, 224, 224}
std::string shape_to_string(const std::vector<std::int64_t>& shape);

// Indices into a split: a stream of per-epoch permutations drawn from the seed.
// A batch that crosses an epoch boundary takes the rest of this epoch and the
// start of the next, so every batch is full and no sample is skipped.
class BatchSampler {
 public:
  BatchSampler(std::int64_t dataset_size, std::uint64_t seed);
  // Bucketed batching: each epoch's shuffled order is cut into windows of
  // `window_batches` batches, each window sorted by `keys` (a sample's size),
  // cut into batches, the batches shuffled and each one's rows, so a batch
  // holds samples of similar size and pads less. Every sample is still drawn
  // once per epoch; a batch size that changes lays out the rest of the epoch
  // again.
  void bucket_by(torch::Tensor keys, std::int64_t window_batches = 50);
  // The indices of the next batch, as an int64 tensor on the CPU.
  torch::Tensor next(std::int64_t batch_size);
  std::int64_t epoch() const { return epoch_; }
  std::int64_t samples_drawn() const { return samples_drawn_; }

 private:
  void reshuffle();
  void bucket(std::int64_t batch_size, std::size_t lead);
  void shuffle_range(std::size_t first, std::size_t count);
  std::int64_t size_;
  std::mt19937_64 rng_;  // fully specified by the standard: the same stream everywhere
  std::vector<std::int64_t> order_;
  std::size_t position_ = 0;
  std::int64_t epoch_ = 0;
  std::int64_t samples_drawn_ = 0;
  std::vector<std::int64_t> keys_;  // bucketed: a size per sample; empty: plain shuffling
  std::int64_t window_batches_ = 0;
  std::int64_t laid_out_for_ = 0;   // bucketed: the batch size the rest of the epoch is laid out for (0: not yet)
};

// The batch at the given indices (CPU tensors; the caller moves them).
// Variable-size splits: cut to the batch's largest extent on each axis.
std::pair<torch::Tensor, torch::Tensor> gather(const Split& split, const torch::Tensor& indices);
// The batch at the given indices with every sample cut or zero-padded to
// `sample_shape` (one input, no batch dim; the probe's worst case), targets
// padded like the inputs along the varying axes with them.
std::pair<torch::Tensor, torch::Tensor> gather_at_shape(const Split& split, const torch::Tensor& indices,
                                                        const std::vector<std::int64_t>& sample_shape);
// The `count` largest samples (by the product of their extents; cycled when
// the split has fewer): the worst case a batch of that size can hold.
torch::Tensor largest_indices(const Split& split, std::int64_t count);
// A sample's size for bucketing: the product of its extents; undefined for
// fixed-size splits.
torch::Tensor sample_sizes(const Split& split);
// Bucketing's sort key: the length, or for several varying dims their
// Z-order (samples close on every dim sort together); undefined for
// fixed-size splits.
torch::Tensor bucket_keys(const Split& split);
// The padded share of the inputs a batch at these indices holds (0 for
// fixed-size splits): what padding per batch costs.
double padding_share(const Split& split, const torch::Tensor& indices);

}  // namespace batchtune
