// Learnable synthetic data of any shape, so that the loss really falls and
// convergence can be compared across batch sizes without a dataset on disk.
// Everything is drawn from the seed: the same seed gives the same data.
#pragma once

#include <cstdint>
#include <vector>

#include "tuner/workload/dataset.hpp"

namespace batchtune {

struct SyntheticSizes {
  std::int64_t train = 8192;
  std::int64_t validation = 1024;
};

// Noisy samples around one random prototype per class (smooth ones for
// images), labelled by their class.
Dataset make_prototype_classification(const std::vector<std::int64_t>& sample_shape,
                                    std::int64_t num_classes, SyntheticSizes sizes,
                                    std::uint64_t seed);

// Gaussian inputs and, as targets, the outputs of a fixed random teacher
// network (one tanh hidden layer over the flattened input) plus small noise.
Dataset make_teacher_regression(const std::vector<std::int64_t>& sample_shape,
                                const std::vector<std::int64_t>& target_shape,
                                SyntheticSizes sizes, std::uint64_t seed);

// Token windows from a fixed random Markov chain over `vocab` tokens. The
// chain's entropy rate, the floor of the cross-entropy loss, is recorded.
Dataset make_markov_tokens(std::int64_t vocab, std::int64_t context, SyntheticSizes sizes,
                           std::uint64_t seed);

// Entropy rate (nats/token) of a row-stochastic matrix's stationary chain.
double markov_entropy_rate(const torch::Tensor& transition);

}  // namespace batchtune
