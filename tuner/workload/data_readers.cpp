#include "tuner/workload/data_readers.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <optional>
#include <random>
#include <vector>

#include "reports/util/error.hpp"
#include "tuner/workload/machine_probe.hpp"
#include "tuner/workload/npy.hpp"

namespace batchtune {
namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The whole file, gunzipped when it is gzip. One read of the compressed
// bytes, then one inflate into a buffer sized from the gzip trailer (its
// ISIZE, the uncompressed size modulo 2^32), growing only when that hint is
// short: Fashion-MNIST's 26 MB of training images inflate in one pass with no
// copies. Concatenated gzip members read as one stream, as gunzip reads them.
std::vector<std::uint8_t> read_maybe_gzipped(const std::string& path) {
  require_path(path, PathKind::file, "data file");
  std::vector<std::uint8_t> raw;
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw InputError(path + ": cannot open the file (" + std::strerror(errno) + ")");
    struct stat st {};
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0) raw.resize(static_cast<std::size_t>(st.st_size));
    const std::size_t got = raw.empty() ? 0 : std::fread(raw.data(), 1, raw.size(), f);
    const bool failed = std::ferror(f) != 0;
    const int read_errno = errno;
    std::fclose(f);
    if (failed) throw InputError(path + ": cannot read the file (" + std::strerror(read_errno) + ")");
    raw.resize(got);
  }
  const bool gzip = raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
  if (!gzip) return raw;
  const auto broken = [&](const std::string& why) {
    return InputError(path + ": corrupt or truncated (" + why + "); download it again");
  };
  if (raw.size() < 18) throw broken("shorter than a gzip header and trailer");
  const std::size_t isize = std::size_t{raw[raw.size() - 4]} | (std::size_t{raw[raw.size() - 3]} << 8) |
                            (std::size_t{raw[raw.size() - 2]} << 16) | (std::size_t{raw[raw.size() - 1]} << 24);
  // The trailer is a hint, not a promise (it wraps at 4 GiB, and the last
  // four bytes of a cut download are anything): the buffer starts at it,
  // capped at 16x the compressed size and at 1 GiB, and grows as needed.
  const std::size_t hint = std::min({isize, raw.size() * 16, std::size_t{1} << 30});
  std::vector<std::uint8_t> out(std::max<std::size_t>(1 << 16, hint));
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw RuntimeFailure(path + ": zlib could not start inflating (inflateInit2)");
  std::size_t in_pos = 0, out_pos = 0;
  int rc = Z_OK;
  for (;;) {
    if (out_pos == out.size()) out.resize(out.size() * 2);
    // zlib counts in 32 bits: feed and drain at most a gigabyte at a time.
    const std::size_t in_left = raw.size() - in_pos, out_left = out.size() - out_pos;
    z.next_in = raw.data() + in_pos;
    z.avail_in = static_cast<uInt>(std::min<std::size_t>(in_left, 1u << 30));
    z.next_out = out.data() + out_pos;
    z.avail_out = static_cast<uInt>(std::min<std::size_t>(out_left, 1u << 30));
    const uInt in_given = z.avail_in, out_given = z.avail_out;
    rc = inflate(&z, Z_NO_FLUSH);
    in_pos += in_given - z.avail_in;
    out_pos += out_given - z.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow (gzip -c a b > ab.gz); anything else after
      // a whole member is ignored, as gunzip and zlib's gzread ignore it.
      if (raw.size() - in_pos < 2 || raw[in_pos] != 0x1f || raw[in_pos + 1] != 0x8b) break;
      if (inflateReset(&z) != Z_OK) break;
      continue;
    }
    if (rc != Z_OK) break;  // Z_BUF_ERROR here: the input ended mid-stream
  }
  const std::string why = z.msg ? z.msg : "";
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    throw broken(rc == Z_BUF_ERROR || rc == Z_OK ? "the gzip stream ends early" : why.empty() ? "zlib error " + std::to_string(rc) : why);
  }
  out.resize(out_pos);
  return out;
}

std::string find_idx(const std::string& dir, const std::string& base) {
  for (const std::string& candidate : {dir + "/" + base, dir + "/" + base + ".gz"}) {
    if (is_file(candidate)) return candidate;
  }
  throw InputError(dir + ": missing " + base + " (or " + base +
                   ".gz); an IDX dataset folder needs train-images-idx3-ubyte, "
                   "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte");
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void require_dir(const std::string& dir, const std::string& hint) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 && errno == ENOENT) throw InputError("--data-dir " + dir + ": no such folder; " + hint);
  require_path(dir, PathKind::folder, "--data-dir");
}

// The mean and the sample deviation (n - 1, as torch.std) of a byte tensor's
// values scaled to [0, 1], from a histogram of them, in two passes over its
// 256 bins: stable, and exactly zero for images of one value (which then
// keep a deviation of 1).
std::pair<float, float> byte_mean_and_deviation(const torch::Tensor& bytes) {
  const torch::Tensor flat = bytes.contiguous();
  const std::uint8_t* p = flat.data_ptr<std::uint8_t>();
  const std::int64_t n = flat.numel();
  std::array<std::uint64_t, 256> counts{};
  for (std::int64_t i = 0; i < n; ++i) ++counts[p[i]];
  std::uint64_t sum = 0;  // at most 255 n: no overflow below 7e16 bytes
  for (unsigned v = 0; v < 256; ++v) sum += std::uint64_t{v} * counts[v];
  const long double mean = n > 0 ? static_cast<long double>(sum) / static_cast<long double>(n) : 0.0L;
  long double squares = 0;
  for (unsigned v = 0; v < 256; ++v) {
    const long double d = static_cast<long double>(v) - mean;
    squares += d * d * static_cast<long double>(counts[v]);
  }
  const long double var = n > 1 ? squares / static_cast<long double>(n - 1) / (255.0L * 255.0L) : 0.0L;
  return {static_cast<float>(mean / 255.0L), var > 0 ? static_cast<float>(std::sqrt(var)) : 1.0f};
}

// N x H x W bytes as N x 1 x H x W floats, (x / 255 - mean) / stddev.
torch::Tensor standardised_bytes(const torch::Tensor& bytes, float mean, float stddev) {
  std::array<float, 256> table{};
  for (int v = 0; v < 256; ++v) table[v] = (static_cast<float>(v) / 255.0f - mean) / stddev;
  const torch::Tensor in = bytes.contiguous();
  torch::Tensor out = torch::empty(in.sizes(), torch::kFloat32);
  const std::uint8_t* src = in.data_ptr<std::uint8_t>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, in.numel(), 1 << 16, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) dst[i] = table[src[i]];
  });
  return out.unsqueeze(1);
}

}  // namespace

void require_path(const std::string& path, PathKind kind, const std::string& option) {
  const std::string name = option + " " + path;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == EACCES) throw InputError(name + ": permission denied on a folder above it; fix the permissions");
    throw InputError(name + ": no such " + (kind == PathKind::file ? "file" : "folder"));
  }
  if (kind == PathKind::file && S_ISDIR(st.st_mode)) {
    throw InputError(name + ": is a directory; give the file inside it");
  }
  if (kind == PathKind::folder && !S_ISDIR(st.st_mode)) {
    throw InputError(name + ": is a file, not a directory; give the folder that holds the dataset");
  }
  if (kind == PathKind::file && !S_ISREG(st.st_mode)) throw InputError(name + ": is not a regular file");
  if (access(path.c_str(), kind == PathKind::file ? R_OK : (R_OK | X_OK)) != 0) {
    throw InputError(name + ": permission denied (" + std::strerror(errno) + "); make it readable (chmod) or copy it");
  }
}

torch::Tensor read_idx_file(const std::string& path, int expected_dims) {
  const std::vector<std::uint8_t> bytes = read_maybe_gzipped(path);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0) {
    throw InputError(path + ": not an IDX file (bad magic number)");
  }
  if (bytes[2] != 0x08) {
    throw InputError(path + ": IDX element type " + std::to_string(bytes[2]) +
                     " is not supported; batchtune reads unsigned bytes (0x08)");
  }
  const int dims = bytes[3];
  if (dims != expected_dims) {
    throw InputError(path + ": holds a " + std::to_string(dims) + "-dimensional IDX array where " +
                     std::to_string(expected_dims) + " was expected (" +
                     (expected_dims == 1 ? "labels" : "images") + "); are the files swapped?");
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(dims);
  if (bytes.size() < header) throw InputError(path + ": truncated IDX header");
  std::vector<std::int64_t> shape;
  // The product of the dims is checked against the file before it is used:
  // a corrupt header (2^31 x 2^31) must not overflow or allocate.
  double promised = 1;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(big_endian_u32(&bytes[4 + 4 * static_cast<std::size_t>(d)]));
    promised *= double(shape.back());
  }
  if (promised > double(bytes.size())) {
    throw InputError(path + ": the IDX header promises " + shape_to_string(shape) + " = " +
                     std::to_string(static_cast<unsigned long long>(std::min(promised, 1.8e19))) + " bytes, the file holds " +
                     std::to_string(bytes.size() - header) + "; the file is truncated or its header is corrupt");
  }
  if (shape[0] == 0) {
    throw InputError(path + ": holds zero " + (expected_dims == 1 ? "labels" : "images") +
                     "; an IDX dataset needs at least one sample per split");
  }
  for (std::size_t d = 1; d < shape.size(); ++d) {
    if (shape[d] == 0) throw InputError(path + ": an image dimension is 0 (" + shape_to_string(shape) + ")");
  }
  const auto count = static_cast<std::size_t>(promised);
  if (bytes.size() != header + count) {
    throw InputError(path + ": " + (bytes.size() < header + count ? "truncated" : "has trailing data") +
                     ": the header promises " + std::to_string(header + count) +
                     " bytes, the file holds " + std::to_string(bytes.size()));
  }
  auto t = torch::empty(shape, torch::kUInt8);
  std::memcpy(t.data_ptr<std::uint8_t>(), bytes.data() + header, count);
  return t;
}

Dataset load_idx_dataset(const std::string& dir, const std::string& name) {
  require_dir(dir, name == "fashion-mnist"
                       ? "install Debian's dataset-fashion-mnist (scripts/setup.sh) or pass --data-dir"
                       : "pass the folder that holds the IDX files");
  auto load_split = [&](const std::string& prefix) {
    const std::string images_path = find_idx(dir, prefix + "-images-idx3-ubyte");
    const std::string labels_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
    torch::Tensor images = read_idx_file(images_path, 3);
    torch::Tensor labels = read_idx_file(labels_path, 1);
    if (images.size(0) != labels.size(0)) {
      throw InputError(labels_path + ": " + std::to_string(labels.size(0)) + " labels for " +
                       std::to_string(images.size(0)) + " images in " + images_path +
                       "; the two files do not belong together");
    }
    return std::make_pair(images, labels.to(torch::kInt64));
  };
  // The test split inflates on a second thread while this one inflates the
  // training images (the longest part of start-up on the default workload).
  auto val_split = std::async(std::launch::async, [&] { return load_split("t10k"); });
  std::pair<torch::Tensor, torch::Tensor> train_split;
  try {
    train_split = load_split("train");
  } catch (...) {
    val_split.wait();
    throw;
  }
  auto [train_images, train_labels] = train_split;
  auto [val_images, val_labels] = val_split.get();
  if (train_images.sizes().slice(1) != val_images.sizes().slice(1)) {
    throw InputError(dir + ": training and test images differ in size");
  }

  Dataset d;
  d.name = name;
  d.source = dir;
  d.task = TaskKind::classification;
  d.num_classes = std::max(train_labels.max().item<std::int64_t>(),
                           val_labels.max().item<std::int64_t>()) + 1;
  d.sample_shape = {1, train_images.size(1), train_images.size(2)};
  // Scaled to [0, 1] and standardised with the training images' mean and
  // deviation. Bytes have 256 values: the statistics come exactly from a
  // histogram, and each byte maps through a 256-entry table in one pass (the
  // same float arithmetic, x / 255 then minus the mean then over the
  // deviation, as element-wise tensor operations would do in six passes).
  const auto [mean, stddev] = byte_mean_and_deviation(train_images);
  d.train = {standardised_bytes(train_images, mean, stddev), train_labels};
  d.validation = {standardised_bytes(val_images, mean, stddev), val_labels};
  d.validation_note = "the dataset's own test split (t10k files)";
  return d;
}

Dataset load_cifar10(const std::string& dir) {
  require_dir(dir, "pass the folder that holds data_batch_1.bin ... test_batch.bin");
  constexpr std::size_t kRecord = 1 + 3 * 32 * 32;
  auto load = [&](const std::vector<std::string>& files) {
    std::vector<std::uint8_t> all;
    for (const auto& f : files) {
      const std::string path = dir + "/" + f;
      if (!is_file(path)) throw InputError(dir + ": missing " + f + " (CIFAR-10 binary version)");
      std::vector<std::uint8_t> bytes = read_maybe_gzipped(path);
      if (bytes.empty() || bytes.size() % kRecord != 0) {
        throw InputError(path + ": " + std::to_string(bytes.size()) +
                         " bytes is not a whole number of 3073-byte CIFAR-10 records; truncated?");
      }
      all.insert(all.end(), bytes.begin(), bytes.end());
    }
    const auto n = static_cast<std::int64_t>(all.size() / kRecord);
    auto raw = torch::from_blob(all.data(), {n, static_cast<std::int64_t>(kRecord)}, torch::kUInt8).clone();
    torch::Tensor labels = raw.select(1, 0).to(torch::kInt64);
    if (labels.max().item<std::int64_t>() > 9) {
      throw InputError(dir + ": a CIFAR-10 label above 9; is this the CIFAR-100 format?");
    }
    torch::Tensor images = raw.slice(1, 1).reshape({n, 3, 32, 32}).to(torch::kFloat32).div_(255.0f);
    return std::make_pair(images, labels);
  };
  auto [train_x, train_y] = load({"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                  "data_batch_4.bin", "data_batch_5.bin"});
  auto [val_x, val_y] = load({"test_batch.bin"});
  const auto mean = train_x.mean({0, 2, 3}, true);
  const auto stddev = train_x.std({0, 2, 3}, true, true);
  Dataset d;
  d.name = "cifar10";
  d.source = dir;
  d.task = TaskKind::classification;
  d.num_classes = 10;
  d.sample_shape = {3, 32, 32};
  d.train = {(train_x - mean) / stddev, train_y};
  d.validation = {(val_x - mean) / stddev, val_y};
  d.validation_note = "the dataset's own test split (test_batch.bin)";
  return d;
}

Dataset load_token_file(const std::string& path, std::int64_t context, double validation_fraction) {
  require_path(path, PathKind::file, "--data-file");
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() % 2 != 0) {
    throw InputError(path + ": odd length; a token file holds little-endian uint16 tokens");
  }
  const auto n_tokens = static_cast<std::int64_t>(bytes.size() / 2);
  const std::int64_t window = context + 1;
  const std::int64_t windows = n_tokens / window;
  if (windows < 2) {
    throw InputError(path + ": " + std::to_string(n_tokens) + " tokens make fewer than two windows of " +
                     std::to_string(window) + "; use a longer file or a shorter --context");
  }
  std::vector<std::int64_t> tokens(static_cast<std::size_t>(windows * window));
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<std::uint8_t>(bytes[2 * i]) |
                (static_cast<std::int64_t>(static_cast<std::uint8_t>(bytes[2 * i + 1])) << 8);
  }
  auto all = torch::from_blob(tokens.data(), {windows, window}, torch::kInt64).clone();
  const auto n_val = std::max<std::int64_t>(1, static_cast<std::int64_t>(windows * validation_fraction));
  const std::int64_t n_train = windows - n_val;
  Dataset d;
  d.name = "tokens";
  d.source = path;
  d.task = TaskKind::language_model;
  d.num_classes = all.max().item<std::int64_t>() + 1;
  d.sample_shape = {context};
  auto split = [&](std::int64_t from, std::int64_t to) {
    auto w = all.slice(0, from, to);
    return Split{w.slice(1, 0, context).contiguous(), w.slice(1, 1, window).contiguous()};
  };
  d.train = split(0, n_train);
  d.validation = split(n_train, windows);
  d.validation_note = "the file's last windows, after the training windows";
  return d;
}

namespace {

std::string numpy_shape(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// The array as a new tensor of `type` (float32 or int64) in its own shape.
// LibTorch 1.13 has no uint16/32/64 tensors: those are widened here.
torch::Tensor npy_to_tensor(const NpyArray& a, torch::ScalarType type) {
  auto* p = const_cast<std::uint8_t*>(a.data.data());
  auto wrap = [&](torch::ScalarType stored) { return torch::from_blob(p, a.shape, stored).to(type, false, true); };
  auto widen = [&](auto word) {
    using Word = decltype(word);
    auto out = torch::empty(a.shape, torch::kInt64);
    auto* o = out.data_ptr<std::int64_t>();
    const auto n = static_cast<std::size_t>(a.numel());
    for (std::size_t i = 0; i < n; ++i) {
      Word v;
      std::memcpy(&v, p + i * sizeof(Word), sizeof(Word));
      if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(INT64_MAX)) {
        throw InputError(a.where + ": holds the uint64 value " + std::to_string(static_cast<std::uint64_t>(v)) +
                         ", above int64's range; save it as int64 or float64");
      }
      o[i] = static_cast<std::int64_t>(v);
    }
    return out.to(type);
  };
  switch (a.type) {
    case NpyType::boolean: return wrap(torch::kBool);
    case NpyType::int8: return wrap(torch::kInt8);
    case NpyType::int16: return wrap(torch::kInt16);
    case NpyType::int32: return wrap(torch::kInt32);
    case NpyType::int64: return wrap(torch::kInt64);
    case NpyType::uint8: return wrap(torch::kUInt8);
    case NpyType::uint16: return widen(std::uint16_t{});
    case NpyType::uint32: return widen(std::uint32_t{});
    case NpyType::uint64: return widen(std::uint64_t{});
    case NpyType::float16: return wrap(torch::kFloat16);
    case NpyType::float32: return wrap(torch::kFloat32);
    case NpyType::float64: return wrap(torch::kFloat64);
  }
  throw RuntimeFailure(a.where + ": unhandled NumPy type");
}

// Training on NaN gives a loss of NaN at every batch size: no recommendation
// could come of it, so such data is refused before any work.
void require_finite(const torch::Tensor& t, const std::string& where) {
  const torch::Tensor bad = ~torch::isfinite(t);
  const auto count = bad.sum().item<std::int64_t>();
  if (count == 0) return;
  const auto first = bad.reshape({t.size(0), -1}).any(1).nonzero().min().item<std::int64_t>();
  throw InputError(where + ": " + std::to_string(count) + " of " + std::to_string(t.numel()) +
                   " values are NaN or infinite (as float32), the first in sample " + std::to_string(first) +
                   "; replace them (np.nan_to_num) or drop those samples");
}

void require_samples(const NpyArray& a) {
  if (a.shape.empty()) {
    throw InputError(a.where + ": holds a single number (shape ()), not an array of samples; save the whole "
                     "array, samples along the first axis");
  }
  if (a.shape[0] == 0) throw InputError(a.where + ": holds zero samples (shape " + numpy_shape(a.shape) + ")");
  for (std::size_t d = 1; d < a.shape.size(); ++d) {
    if (a.shape[d] == 0) {
      throw InputError(a.where + ": each sample is empty (shape " + numpy_shape(a.shape) + "); save the full arrays");
    }
  }
}

void require_same_count(const NpyArray& inputs, const NpyArray& targets) {
  if (inputs.shape[0] != targets.shape[0]) {
    throw InputError(targets.where + ": " + std::to_string(targets.shape[0]) + " targets (shape " +
                     numpy_shape(targets.shape) + ") for " + std::to_string(inputs.shape[0]) + " inputs in " +
                     inputs.where + " (shape " + numpy_shape(inputs.shape) +
                     "); the first axes must match, one target per sample");
  }
}

// Labels and token ids are counted from 0.
std::int64_t highest_id(const torch::Tensor& ids, const std::string& where, const char* what) {
  const auto lowest = ids.min().item<std::int64_t>();
  if (lowest < 0) {
    throw InputError(where + ": holds the negative " + what + " " + std::to_string(lowest) + "; " + what +
                     "s count from 0");
  }
  return ids.max().item<std::int64_t>();
}

}  // namespace

Dataset load_npy_dataset(const NpyFiles& files, bool regression, std::uint64_t seed, bool model_loss) {
  if (files.data_file.empty()) {
    throw UsageError("--data npy needs --data-file: an .npz saved with np.savez(\"data.npz\", x=inputs, y=targets), "
                     "or a .npy of inputs with --target-file for the .npy of targets");
  }
  require_path(files.data_file, PathKind::file, "--data-file");
  NpyArray x, y;
  std::optional<NpyArray> x_val, y_val, lengths, lengths_val;  // lengths: `lengths` or `sizes`
  std::string extent_key = "lengths";
  std::string source = files.data_file;
  std::string names;  // for the validation note
  if (npy_file_kind(files.data_file) == NpyFileKind::npz) {
    if (!files.target_file.empty()) {
      throw UsageError("--target-file " + files.target_file + " is for a .npy of inputs; --data-file " +
                       files.data_file + " is an .npz, which holds the targets itself (choose them with "
                       "--npy-targets NAME)");
    }
    const NpzArchive npz(files.data_file);
    auto held = [&] {
      std::string list;
      for (const auto& n : npz.names()) list += (list.empty() ? "" : ", ") + n;
      return list;
    };
    auto pick = [&](const std::string& given, const std::string& option, const std::string& first,
                    const std::string& second) {
      if (!given.empty()) {
        if (npz.has(given)) return given;
        throw InputError(option + " " + given + ": " + files.data_file + " has no array of that name (it holds: " +
                         held() + ")");
      }
      if (npz.has(first)) return first;
      if (npz.has(second)) return second;
      throw InputError(files.data_file + ": has no array named " + first + " or " + second + " (it holds: " + held() +
                       "); save it as np.savez(\"" + files.data_file + "\", x=inputs, y=targets) or pass " + option +
                       " NAME");
    };
    const std::string inputs_name = pick(files.inputs_name, "--npy-inputs", "x", "inputs");
    const std::string targets_name = pick(files.targets_name, "--npy-targets", "y", "targets");
    if (inputs_name == targets_name) {
      throw UsageError("--npy-inputs and --npy-targets both name the array '" + inputs_name + "'; give two arrays");
    }
    x = npz.read(inputs_name);
    y = npz.read(targets_name);
    const std::string xv = inputs_name + "_val", yv = targets_name + "_val";
    if (npz.has(xv) != npz.has(yv)) {
      throw InputError(files.data_file + ": has the validation array " + (npz.has(xv) ? xv : yv) + " but not " +
                       (npz.has(xv) ? yv : xv) + "; save both (or neither: 10% of the samples are then held out)");
    }
    if (npz.has(xv)) {
      x_val = npz.read(xv);
      y_val = npz.read(yv);
      names = xv + " and " + yv;
    }
    // Variable-size samples: each one's length along the inputs' dim 1
    // (`lengths`), or its extent along their last k dims (`sizes`, (N, k):
    // an image's height and width).
    if (npz.has("lengths") && npz.has("sizes")) {
      throw InputError(files.data_file + ": has both lengths and sizes; save one (lengths (N,) for sequences, "
                       "sizes (N, k) for the last k dims of images)");
    }
    extent_key = npz.has("sizes") ? "sizes" : "lengths";
    if (npz.has(extent_key)) lengths = npz.read(extent_key);
    if (npz.has(extent_key + "_val")) lengths_val = npz.read(extent_key + "_val");
    if (lengths_val && !x_val) {
      throw InputError(files.data_file + ": has " + extent_key + "_val but no validation arrays (" + xv + ", " + yv +
                       ")");
    }
    if (lengths && x_val && !lengths_val) {
      throw InputError(files.data_file + ": has " + extent_key + " for the training arrays but no " + extent_key +
                       "_val for " + xv + "; save both");
    }
  } else {
    if (!files.inputs_name.empty() || !files.targets_name.empty()) {
      throw UsageError(std::string(!files.inputs_name.empty() ? "--npy-inputs" : "--npy-targets") +
                       " names an array inside an .npz; --data-file " + files.data_file +
                       " is a single .npy (its targets go in --target-file)");
    }
    if (files.target_file.empty()) {
      throw UsageError("--data-file " + files.data_file + " is a .npy of inputs; pass the .npy of targets with "
                       "--target-file (or save both in one file: np.savez(\"data.npz\", x=inputs, y=targets))");
    }
    require_path(files.target_file, PathKind::file, "--target-file");
    if (npy_file_kind(files.target_file) != NpyFileKind::npy) {
      throw UsageError("--target-file " + files.target_file + " is an .npz; give a .npy of targets, or pass the .npz "
                       "alone as --data-file");
    }
    x = read_npy(files.data_file);
    y = read_npy(files.target_file);
    source = files.data_file + ", " + files.target_file;
  }
  for (const NpyArray* a : {&x, &y}) require_samples(*a);
  require_same_count(x, y);
  if (x_val) {
    require_samples(*x_val);
    require_samples(*y_val);
    require_same_count(*x_val, *y_val);
    for (auto [val, train] : {std::pair{&*x_val, &x}, std::pair{&*y_val, &y}}) {
      const std::vector<std::int64_t> a(val->shape.begin() + 1, val->shape.end());
      const std::vector<std::int64_t> b(train->shape.begin() + 1, train->shape.end());
      if (a != b || npy_is_floating(val->type) != npy_is_floating(train->type)) {
        throw InputError(val->where + ": " + npy_type_name(val->type) + " samples of shape " + numpy_shape(a) +
                         ", but the training array holds " + npy_type_name(train->type) + " samples of shape " +
                         numpy_shape(b) + "; validation samples must be like the training ones");
      }
    }
  }

  // What the arrays are decides the task.
  const bool integer_inputs = !npy_is_floating(x.type);
  const bool integer_targets = !npy_is_floating(y.type);
  TaskKind task = TaskKind::regression;
  if (model_loss) {
    task = TaskKind::model_defined;
  } else if (integer_targets && !regression) {
    if (y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1)) {
      task = TaskKind::classification;
    } else if (y.shape.size() == 2 && integer_inputs && x.shape == y.shape) {
      task = TaskKind::language_model;
    } else {
      throw InputError(y.where + ": " + npy_type_name(y.type) + " targets of shape " + numpy_shape(y.shape) +
                       " beside " + npy_type_name(x.type) + " inputs of shape " + numpy_shape(x.shape) +
                       "; integer targets are class labels of shape (N,), or next-token ids of shape (N, T) beside "
                       "integer inputs of the same shape; for regression save them as floats (y.astype(np.float32)) "
                       "or pass --loss mse");
    }
  }
  // Integer inputs stay integers (token ids) for a language model, a model's
  // own loss, and variable-length sequences (a `lengths` array; images with
  // `sizes` are pixels, floats).
  const torch::ScalarType input_type =
      task == TaskKind::language_model ||
              (integer_inputs && (task == TaskKind::model_defined || (lengths.has_value() && extent_key == "lengths")))
          ? torch::kInt64
          : torch::kFloat32;
  const torch::ScalarType target_type =
      task == TaskKind::regression || (task == TaskKind::model_defined && !integer_targets) ? torch::kFloat32
                                                                                            : torch::kInt64;
  {
    // The tensors are new copies: room for them is checked before they are made.
    auto bytes = [](const NpyArray* a, torch::ScalarType t) {
      return a ? static_cast<std::uint64_t>(a->numel()) * (t == torch::kInt64 ? 8u : 4u) : 0u;
    };
    const std::uint64_t needed = bytes(&x, input_type) + bytes(&y, target_type) +
                                 bytes(x_val ? &*x_val : nullptr, input_type) +
                                 bytes(y_val ? &*y_val : nullptr, target_type);
    const std::uint64_t usable = usable_memory_bytes();
    if (needed > usable) {
      throw InputError(source + ": the arrays need " + format_bytes(needed) + " as " +
                       (input_type == torch::kInt64 ? "int64" : "float32") + " tensors, more than the " +
                       format_bytes(usable) + " this process may use; use fewer samples");
    }
  }
  auto inputs_of = [&](const NpyArray& a) {
    torch::Tensor t = npy_to_tensor(a, input_type);
    if (t.dim() == 1) t = t.unsqueeze(1);  // one feature per sample
    if (input_type == torch::kFloat32) require_finite(t, a.where);
    return t;
  };
  auto targets_of = [&](const NpyArray& a) {
    torch::Tensor t = npy_to_tensor(a, target_type);
    if (task == TaskKind::classification) return t.reshape({-1});
    if (task == TaskKind::regression) {
      if (t.dim() == 1) t = t.unsqueeze(1);  // one value per sample: a model's [B, 1] output
      require_finite(t, a.where);
    }
    if (task == TaskKind::model_defined && target_type == torch::kFloat32) require_finite(t, a.where);
    return t;
  };
  Split train{inputs_of(x), targets_of(y)};
  // Lengths: integers, one per sample, from 1 to the padded length; sizes:
  // k integers per sample, each from 1 to the padded size of its dim.
  const bool sizes = extent_key == "sizes";
  auto lengths_of = [&](const std::optional<NpyArray>& a, Split& split) {
    if (!a) return;
    const std::int64_t n = split.size(), dims = split.inputs.dim() - 1;
    const bool shape_ok = sizes ? a->shape.size() == 2 && a->shape[0] == n && a->shape[1] >= 1 &&
                                      static_cast<std::int64_t>(a->shape[1]) <= dims
                                : a->shape.size() == 1 && a->shape[0] == n;
    if (npy_is_floating(a->type) || !shape_ok) {
      throw InputError(a->where + ": " + npy_type_name(a->type) + " of shape " + numpy_shape(a->shape) + "; " +
                       (sizes ? "sizes are integers, k per sample for the inputs' last k dims: shape (" +
                                    std::to_string(n) + ", k) with k from 1 to " + std::to_string(std::max<std::int64_t>(dims, 1))
                              : "lengths are integers, one per sample: shape (" + std::to_string(n) + ",)"));
    }
    if (dims < 1) {
      throw InputError(a->where + ": " + extent_key + " need inputs padded along a dim past the first; the inputs are of shape " +
                       shape_to_string(split.inputs.sizes().vec()));
    }
    torch::Tensor t = npy_to_tensor(*a, torch::kInt64).reshape({n, -1});
    const std::int64_t k = t.size(1);
    std::vector<std::int64_t> axes;
    for (std::int64_t i = 0; i < k; ++i) axes.push_back(sizes ? split.inputs.dim() - k + i : 1);
    for (std::int64_t i = 0; i < k; ++i) {
      const torch::Tensor col = t.select(1, i);
      const std::int64_t low = col.min().item<std::int64_t>(), high = col.max().item<std::int64_t>();
      const std::int64_t padded = split.inputs.size(axes[static_cast<std::size_t>(i)]);
      if (low < 1 || high > padded) {
        throw InputError(a->where + ": " + (sizes ? "column " + std::to_string(i) + " runs" : std::string("lengths run")) +
                         " from " + std::to_string(low) + " to " + std::to_string(high) + "; each must be from 1 to the padded " +
                         (sizes ? "size of the inputs' dim " + std::to_string(axes[static_cast<std::size_t>(i)]) + ", "
                                : std::string("length ")) +
                         std::to_string(padded));
      }
    }
    split.extents = t;
    split.varying_axes = axes;
    split.align_end = sizes;
  };
  lengths_of(lengths, train);
  Split validation;
  std::string note;
  if (x_val) {
    validation = {inputs_of(*x_val), targets_of(*y_val)};
    lengths_of(lengths_val, validation);
    if (train.extents.defined() && validation.extents.defined() && train.varying_axes != validation.varying_axes) {
      throw InputError(files.data_file + ": " + extent_key + " gives " + std::to_string(train.extents.size(1)) +
                       " extents per sample and " + extent_key + "_val " + std::to_string(validation.extents.size(1)) +
                       " (for inputs of " + std::to_string(train.inputs.dim() - 1) + " and " +
                       std::to_string(validation.inputs.dim() - 1) + " dims); save both alike");
    }
    note = "the file's own validation arrays (" + names + ")";
  } else {
    const std::int64_t n = train.size();
    if (n < 2) {
      throw InputError(x.where + ": holds 1 sample; batchtune needs at least 2, one to train on and one to validate");
    }
    const std::int64_t n_val = std::max<std::int64_t>(1, n / 10);
    // A permutation from the seed with our own Fisher-Yates (as BatchSampler):
    // the same split on every standard library.
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
    std::mt19937_64 rng(seed);
    for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[static_cast<std::size_t>(rng() % (i + 1))]);
    std::sort(order.begin(), order.begin() + n_val);
    std::sort(order.begin() + n_val, order.end());
    const auto all = torch::from_blob(order.data(), {n}, torch::kInt64);
    const torch::Tensor val_idx = all.slice(0, 0, n_val), train_idx = all.slice(0, n_val, n);
    const Split whole = train;
    validation = whole;
    validation.inputs = whole.inputs.index_select(0, val_idx);
    validation.targets = whole.targets.index_select(0, val_idx);
    train.inputs = whole.inputs.index_select(0, train_idx);
    train.targets = whole.targets.index_select(0, train_idx);
    if (whole.extents.defined()) {
      validation.extents = whole.extents.index_select(0, val_idx);
      train.extents = whole.extents.index_select(0, train_idx);
    }
    note = "a random 10% of the samples (" + std::to_string(n_val) + " of " + std::to_string(n) + ", drawn from seed " +
           std::to_string(seed) + "), held out: never trained on";
  }

  Dataset d;
  d.name = "npy";
  d.source = source;
  d.task = task;
  d.sample_shape = train.inputs.sizes().slice(1).vec();
  if (train.extents.defined()) {
    const torch::Tensor both = validation.extents.defined() ? torch::cat({train.extents, validation.extents})
                                                            : train.extents;
    const torch::Tensor largest = std::get<0>(both.max(0)), mean = both.to(torch::kFloat64).mean(0);
    for (std::int64_t i = 0; i < both.size(1); ++i) {
      d.max_extent.push_back(largest[i].item<std::int64_t>());
      d.mean_extent.push_back(mean[i].item<double>());
    }
    d.extent_name = sizes ? "size" : "length";
  }
  if (task == TaskKind::regression || task == TaskKind::model_defined) {
    d.target_shape = train.targets.sizes().slice(1).vec();
  }
  if (task == TaskKind::classification) {
    d.num_classes = std::max(highest_id(train.targets, y.where, "label"),
                             highest_id(validation.targets, y_val ? y_val->where : y.where, "label")) + 1;
  }
  if (task == TaskKind::language_model) {
    std::int64_t highest = 0;
    for (const auto& [t, where] : {std::pair{train.inputs, x.where}, std::pair{train.targets, y.where},
                                   std::pair{validation.inputs, x_val ? x_val->where : x.where},
                                   std::pair{validation.targets, y_val ? y_val->where : y.where}}) {
      highest = std::max(highest, highest_id(t, where, "token id"));
    }
    d.num_classes = highest + 1;
  }
  d.train = std::move(train);
  d.validation = std::move(validation);
  d.validation_note = note;
  return d;
}

}  // namespace batchtune
