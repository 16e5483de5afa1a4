#include "tuner/workload/data_readers.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <torch/torch.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "reports/error.hpp"

namespace batchtune {
namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The whole file, gunzipped when it is gzip (zlib reads plain files as they are).
std::vector<std::uint8_t> read_maybe_gzipped(const std::string& path) {
  require_path(path, PathKind::file, "data file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(path + ": cannot open the file");
  std::vector<std::uint8_t> bytes;
  std::array<std::uint8_t, 1 << 16> buf{};
  for (;;) {
    const int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int code = 0;
      const std::string why = gzerror(f, &code);
      gzclose(f);
      throw InputError(path + ": corrupt or truncated (" + why + "); download it again");
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf.begin(), buf.begin() + n);
  }
  // A gzip stream cut short reads as a clean end in some zlib versions; gzclose reports it.
  if (gzclose(f) != Z_OK) {
    throw InputError(path + ": corrupt or truncated gzip stream; download it again");
  }
  return bytes;
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
  auto [train_images, train_labels] = load_split("train");
  auto [val_images, val_labels] = load_split("t10k");
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
  auto to_float = [](const torch::Tensor& u8) { return u8.to(torch::kFloat32).div_(255.0f).unsqueeze(1); };
  torch::Tensor train_x = to_float(train_images);
  const float mean = train_x.mean().item<float>();
  const float stddev = train_x.std().item<float>();
  d.train = {train_x.sub_(mean).div_(stddev), train_labels};
  d.validation = {to_float(val_images).sub_(mean).div_(stddev), val_labels};
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

}  // namespace batchtune
