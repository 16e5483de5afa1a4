// Readers for the datasets a user brings: IDX image/label files (MNIST,
// Fashion-MNIST and the like, gzipped or not), the CIFAR-10 binary format,
// flat uint16 token files, and NumPy arrays (.npz, or a .npy pair). Each failure names the file and what is wrong with
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

// What --data npy reads: an .npz holding the inputs and targets (and, when it
// has them, <inputs>_val and <targets>_val), or a .npy of inputs and a .npy of
// targets.
struct NpyFiles {
  std::string data_file;     // --data-file: the .npz, or the .npy of inputs
  std::string target_file;   // --target-file: the .npy of targets (only beside a .npy)
  std::string inputs_name;   // --npy-inputs: "" means x, else inputs
  std::string targets_name;  // --npy-targets: "" means y, else targets
};

// The task follows from the arrays: integer targets [N] (or [N, 1]) are class
// labels; floating targets are regression targets ([N] becomes [N, 1]); integer
// [N, T] targets beside integer [N, T] inputs are next-token language-model
// data (int64 token ids). Other inputs become float32 as saved (no scaling).
// `regression` (--loss mse) makes integer targets regression targets too.
// Without validation arrays, a random 10% of the samples drawn from `seed` is
// held out and never trained on. NaN or infinite inputs and targets are
// refused. Throws InputError naming the file and array, or UsageError for a
// combination of options that cannot work.
// model_loss: the model computes its own loss (--loss model), so the arrays
// are taken as they are (integers as int64, floats as float32, any shapes)
// with no task read into them.
Dataset load_npy_dataset(const NpyFiles& files, bool regression, std::uint64_t seed, bool model_loss = false);

}  // namespace batchtune
