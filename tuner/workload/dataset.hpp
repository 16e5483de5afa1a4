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
  // Variable-length samples (an .npz `lengths` array): each sample's valid
  // length along dim 1 of the inputs, which are padded to the longest. A
  // batch is then cut to its own longest sample (padded per batch), and
  // targets with the inputs' length too. Undefined: fixed-size samples.
  torch::Tensor lengths{};  // [N] int64
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
  // Variable-length samples: the longest and the mean length (dim 1 of the
  // inputs) over both splits; 0 for fixed-size samples.
  std::int64_t max_length = 0;
  double mean_length = 0;
};

// "3x224x224" <-> {3, 224, 224}
std::string shape_to_string(const std::vector<std::int64_t>& shape);

// Indices into a split: a stream of per-epoch permutations drawn from the seed.
// A batch that crosses an epoch boundary takes the rest of this epoch and the
// start of the next, so every batch is full and no sample is skipped.
class BatchSampler {
 public:
  BatchSampler(std::int64_t dataset_size, std::uint64_t seed);
  // The indices of the next batch, as an int64 tensor on the CPU.
  torch::Tensor next(std::int64_t batch_size);
  std::int64_t epoch() const { return epoch_; }
  std::int64_t samples_drawn() const { return samples_drawn_; }

 private:
  void reshuffle();
  std::int64_t size_;
  std::mt19937_64 rng_;  // fully specified by the standard: the same stream everywhere
  std::vector<std::int64_t> order_;
  std::size_t position_ = 0;
  std::int64_t epoch_ = 0;
  std::int64_t samples_drawn_ = 0;
};

// The batch at the given indices (CPU tensors; the caller moves them).
// Variable-length splits: cut to the batch's longest sample.
std::pair<torch::Tensor, torch::Tensor> gather(const Split& split, const torch::Tensor& indices);
// The `count` longest samples (cycled when the split has fewer): the worst
// case a batch of that size can hold, for the memory probe.
torch::Tensor longest_indices(const Split& split, std::int64_t count);

}  // namespace batchtune
