// Readers for the datasets a user brings: IDX image/label files (MNIST,
// Fashion-MNIST and the like, gzipped or not), the CIFAR-10 binary format, and
// flat uint16 token files. Each failure names the file and what is wrong with
// it, as an InputError (exit code 3).
#pragma once

#include <cstdint>
#include <string>

#include "tuner/workload/dataset.hpp"

namespace batchtune {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// What kind of path an option expects. Throws InputError naming the option
// and the path when it is missing, of the other kind (a folder where a file
// is expected, or a file where a folder is), or unreadable (permission).
enum class PathKind { file, folder };
void require_path(const std::string& path, PathKind kind, const std::string& option);

// A raw IDX array: magic 0x0000 08 NDIMS (unsigned bytes), big-endian dims.
torch::Tensor read_idx_file(const std::string& path, int expected_dims);

// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte in `dir` (each may end in .gz). Images are scaled to
// [0, 1] and standardised with the training split's mean and deviation; the
// t10k split is the validation split.
Dataset load_idx_dataset(const std::string& dir, const std::string& name);

// data_batch_1..5.bin and test_batch.bin in `dir`: 3x32x32 images, 10 classes.
Dataset load_cifar10(const std::string& dir);

// A flat file of little-endian uint16 tokens, cut into windows of context + 1
// tokens; the last validation_fraction of the windows is the validation split.
Dataset load_token_file(const std::string& path, std::int64_t context, double validation_fraction);

}  // namespace batchtune
