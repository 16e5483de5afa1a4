#include "tests/support/catch.hpp"
#include "tests/support/temp_dir.hpp"

#include <torch/torch.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "reports/util/error.hpp"
#include "tuner/workload/data_readers.hpp"
#include "tuner/workload/dataset.hpp"
#include "tuner/workload/synthetic_data.hpp"

namespace fs = std::filesystem;
using namespace batchtune;

namespace {

using test::TempDir;  // tests/support/temp_dir.hpp: mkdtemp under $TMPDIR

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims, std::uint8_t fill_mod) {
  std::vector<std::uint8_t> b{0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
  std::size_t n = 1;
  for (auto d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
    n *= d;
  }
  for (std::size_t i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(i % fill_mod));
  return b;
}

void write_mnist_like(const TempDir& dir, std::uint32_t train, std::uint32_t test) {
  write_bytes(dir.file("train-images-idx3-ubyte"), idx_bytes({train, 4, 4}, 251));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_bytes({train}, 3));
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes({test, 4, 4}, 251));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({test}, 3));
}

}  // namespace

TEST_CASE("the Fashion-MNIST reader returns the real dataset", "[tuner][data]") {
  if (!fs::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    FAIL("Debian's dataset-fashion-mnist is not installed; run scripts/setup.sh");
  }
  const Dataset d = load_idx_dataset(kFashionMnistDir, "fashion-mnist");
  CHECK(d.train.inputs.sizes() == torch::IntArrayRef({60000, 1, 28, 28}));
  CHECK(d.validation.inputs.sizes() == torch::IntArrayRef({10000, 1, 28, 28}));
  CHECK(d.train.targets.size(0) == 60000);
  CHECK(d.validation.targets.size(0) == 10000);
  CHECK(d.train.targets.min().item<std::int64_t>() == 0);
  CHECK(d.train.targets.max().item<std::int64_t>() == 9);
  CHECK(d.num_classes == 10);
  // Balanced classes: 6000 of each in training.
  CHECK(torch::bincount(d.train.targets).eq(6000).all().item<bool>());
  // Standardised with the training statistics.
  CHECK(std::abs(d.train.inputs.mean().item<double>()) < 1e-3);
  CHECK(std::abs(d.train.inputs.std().item<double>() - 1.0) < 1e-3);
}

TEST_CASE("IDX files: gzipped or plain, and broken ones named", "[tuner][data]") {
  TempDir dir;
  write_mnist_like(dir, 12, 5);

  SECTION("plain files load with their shapes") {
    const Dataset d = load_idx_dataset(dir.path().string(), "mnist-idx");
    CHECK(d.train.size() == 12);
    CHECK(d.validation.size() == 5);
    CHECK(d.sample_shape == std::vector<std::int64_t>{1, 4, 4});
    CHECK(d.num_classes == 3);
  }
  SECTION("gzipped files read the same") {
    const std::string plain = dir.file("train-images-idx3-ubyte");
    std::ifstream in(plain, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    gzFile gz = gzopen((plain + ".gz").c_str(), "wb");
    gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(gz);
    fs::remove(plain);
    const torch::Tensor t = read_idx_file(plain + ".gz", 3);
    CHECK(t.sizes() == torch::IntArrayRef({12, 4, 4}));
    CHECK(t.flatten()[150].item<int>() == 150 % 251);
  }
  SECTION("gzip streams: several members, trailing bytes, a lying size trailer, a cut or corrupt stream") {
    const std::string plain = dir.file("train-images-idx3-ubyte");
    const std::vector<std::uint8_t> bytes = idx_bytes({12, 4, 4}, 251);
    // One gzip member of the given bytes, in memory.
    auto gzip_of = [&](const std::uint8_t* data, std::size_t n) {
      const std::string tmp = dir.file("member.gz");
      gzFile gz = gzopen(tmp.c_str(), "wb");
      gzwrite(gz, data, static_cast<unsigned>(n));
      gzclose(gz);
      std::ifstream in(tmp, std::ios::binary);
      return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    auto read_as = [&](const std::vector<std::uint8_t>& file) {
      fs::remove(plain);
      write_bytes(plain + ".gz", file);
      return read_idx_file(plain + ".gz", 3);
    };
    const auto whole = gzip_of(bytes.data(), bytes.size());
    const torch::Tensor expected = read_as(whole);
    CHECK(expected.flatten()[150].item<int>() == 150 % 251);

    // gzip -c a b > ab.gz: the members read as one stream. The last member's
    // size trailer (10 bytes) is all the reader has to size its buffer by:
    // 76,816 bytes must grow it.
    const std::vector<std::uint8_t> large = idx_bytes({300, 16, 16}, 251);
    auto two = gzip_of(large.data(), large.size() - 10);
    const auto rest = gzip_of(large.data() + large.size() - 10, 10);
    two.insert(two.end(), rest.begin(), rest.end());
    const torch::Tensor joined = read_as(two);
    CHECK(joined.sizes() == torch::IntArrayRef({300, 16, 16}));
    CHECK(joined.flatten()[300 * 256 - 1].item<int>() == (300 * 256 - 1) % 251);

    // Bytes after a whole member are ignored, as gunzip ignores them.
    auto padded = whole;
    padded.insert(padded.end(), {0, 0, 0, 7, 9});
    CHECK(read_as(padded).equal(expected));

    // A size trailer that disagrees with the data is corruption (zlib checks
    // it), whether it claims too little or 4 GiB.
    auto small_hint = whole;
    small_hint[small_hint.size() - 4] = 1;
    for (std::size_t i = 3; i >= 1; --i) small_hint[small_hint.size() - i] = 0;
    CHECK_THROWS_WITH(read_as(small_hint), Catch::Contains("corrupt or truncated"));  // zlib checks ISIZE
    auto big_hint = whole;
    for (std::size_t i = 4; i >= 1; --i) big_hint[big_hint.size() - i] = 0xff;
    CHECK_THROWS_WITH(read_as(big_hint), Catch::Contains("corrupt or truncated"));

    // Cut short, or a flipped byte inside the deflate data.
    auto cut = whole;
    cut.resize(cut.size() - 12);
    CHECK_THROWS_WITH(read_as(cut), Catch::Contains("corrupt or truncated") && Catch::Contains(plain));
    auto flipped = whole;
    flipped[flipped.size() / 2] ^= 0x5a;
    CHECK_THROWS_WITH(read_as(flipped), Catch::Contains("download it again"));
  }
  SECTION("images are standardised with the training split's exact mean and deviation") {
    const Dataset d = load_idx_dataset(dir.path().string(), "mnist-idx");
    // The element-wise reference: x / 255, then the training mean and deviation.
    const torch::Tensor raw = read_idx_file(dir.file("train-images-idx3-ubyte"), 3).to(torch::kFloat64).div(255.0);
    const double mean = raw.mean().item<double>(), stddev = raw.std().item<double>();
    CHECK(d.train.inputs.sizes() == torch::IntArrayRef({12, 1, 4, 4}));
    CHECK(torch::allclose(d.train.inputs.to(torch::kFloat64), ((raw - mean) / stddev).unsqueeze(1), 1e-5, 1e-5));
    const torch::Tensor val = read_idx_file(dir.file("t10k-images-idx3-ubyte"), 3).to(torch::kFloat64).div(255.0);
    CHECK(torch::allclose(d.validation.inputs.to(torch::kFloat64), ((val - mean) / stddev).unsqueeze(1), 1e-5, 1e-5));
  }
  SECTION("images of one value standardise to zeros, not NaN") {
    write_bytes(dir.file("train-images-idx3-ubyte"), idx_bytes({12, 4, 4}, 1));
    const Dataset d = load_idx_dataset(dir.path().string(), "mnist-idx");
    CHECK(d.train.inputs.isfinite().all().item<bool>());
    CHECK(d.train.inputs.abs().max().item<float>() == 0.0f);
    CHECK(d.validation.inputs.isfinite().all().item<bool>());
  }
  SECTION("a truncated file says so") {
    auto bytes = idx_bytes({12, 4, 4}, 251);
    bytes.resize(bytes.size() - 7);
    write_bytes(dir.file("train-images-idx3-ubyte"), bytes);
    CHECK_THROWS_WITH(load_idx_dataset(dir.path().string(), "mnist-idx"), Catch::Contains("truncated"));
  }
  SECTION("labels that do not match the images are refused") {
    write_bytes(dir.file("train-labels-idx1-ubyte"), idx_bytes({11}, 3));
    CHECK_THROWS_WITH(load_idx_dataset(dir.path().string(), "mnist-idx"), Catch::Contains("do not belong together"));
  }
  SECTION("images and labels swapped are refused") {
    fs::copy_file(dir.file("t10k-labels-idx1-ubyte"), dir.file("t10k-images-idx3-ubyte"), fs::copy_options::overwrite_existing);
    CHECK_THROWS_WITH(load_idx_dataset(dir.path().string(), "mnist-idx"), Catch::Contains("swapped"));
  }
  SECTION("not an IDX file at all") {
    write_bytes(dir.file("train-images-idx3-ubyte"), {'h', 'e', 'l', 'l', 'o'});
    CHECK_THROWS_AS(load_idx_dataset(dir.path().string(), "mnist-idx"), InputError);
  }
  SECTION("a missing file and a missing folder are named") {
    fs::remove(dir.file("t10k-labels-idx1-ubyte"));
    CHECK_THROWS_WITH(load_idx_dataset(dir.path().string(), "mnist-idx"), Catch::Contains("t10k-labels-idx1-ubyte"));
    CHECK_THROWS_WITH(load_idx_dataset("/nonexistent/x", "mnist-idx"), Catch::Contains("/nonexistent/x"));
  }
}

TEST_CASE("CIFAR-10 binary batches", "[tuner][data]") {
  TempDir dir;
  auto records = [](int n) {
    std::vector<std::uint8_t> b;
    for (int r = 0; r < n; ++r) {
      b.push_back(static_cast<std::uint8_t>(r % 10));
      for (int i = 0; i < 3072; ++i) b.push_back(static_cast<std::uint8_t>((r * 7 + i) % 256));
    }
    return b;
  };
  for (int i = 1; i <= 5; ++i) write_bytes(dir.file("data_batch_" + std::to_string(i) + ".bin"), records(3));
  write_bytes(dir.file("test_batch.bin"), records(4));
  const Dataset d = load_cifar10(dir.path().string());
  CHECK(d.train.inputs.sizes() == torch::IntArrayRef({15, 3, 32, 32}));
  CHECK(d.validation.size() == 4);
  CHECK(d.train.targets[2].item<std::int64_t>() == 2);

  auto cut = records(4);
  cut.pop_back();
  write_bytes(dir.file("test_batch.bin"), cut);
  CHECK_THROWS_WITH(load_cifar10(dir.path().string()), Catch::Contains("truncated"));
}

TEST_CASE("token files become windows with a held-out tail", "[tuner][data]") {
  TempDir dir;
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 100; ++i) {
    const int token = (i * 37) % 300;  // above 255: checks both bytes
    bytes.push_back(static_cast<std::uint8_t>(token & 0xff));
    bytes.push_back(static_cast<std::uint8_t>(token >> 8));
  }
  write_bytes(dir.file("tokens.bin"), bytes);
  const Dataset d = load_token_file(dir.file("tokens.bin"), 9, 0.2);  // windows of 10
  CHECK(d.train.size() == 8);
  CHECK(d.validation.size() == 2);
  CHECK(d.train.inputs.size(1) == 9);
  CHECK(d.train.inputs[0][1].item<std::int64_t>() == 37);
  CHECK(d.train.targets[0][0].item<std::int64_t>() == 37);  // targets are inputs shifted by one
  int max_token = 0;
  for (int i = 0; i < 100; ++i) max_token = std::max(max_token, (i * 37) % 300);
  CHECK(d.num_classes == max_token + 1);
  bytes.pop_back();
  write_bytes(dir.file("odd.bin"), bytes);
  CHECK_THROWS_WITH(load_token_file(dir.file("odd.bin"), 9, 0.2), Catch::Contains("odd length"));
}

TEST_CASE("the batch sampler draws without replacement within an epoch", "[tuner][data]") {
  BatchSampler sampler(10, 42);
  std::multiset<std::int64_t> first_epoch;
  for (int i = 0; i < 2; ++i) {
    auto idx = sampler.next(4);
    for (int k = 0; k < 4; ++k) first_epoch.insert(idx[k].item<std::int64_t>());
  }
  auto crossing = sampler.next(4);  // two from epoch 0, two from epoch 1
  first_epoch.insert(crossing[0].item<std::int64_t>());
  first_epoch.insert(crossing[1].item<std::int64_t>());
  CHECK(first_epoch.size() == 10);
  CHECK(std::set<std::int64_t>(first_epoch.begin(), first_epoch.end()).size() == 10);
  CHECK(sampler.epoch() == 1);
  CHECK(sampler.samples_drawn() == 12);

  SECTION("the same seed gives the same order, another seed another") {
    BatchSampler a(1000, 7), b(1000, 7), c(1000, 8);
    const auto x = a.next(1000), y = b.next(1000), z = c.next(1000);
    CHECK(x.equal(y));
    CHECK_FALSE(x.equal(z));
    CHECK_FALSE(a.next(1000).equal(x));  // reshuffled for the next epoch
  }
  SECTION("a batch larger than the dataset spans epochs") {
    BatchSampler big(3, 1);
    CHECK(big.next(7).size(0) == 7);
    CHECK(big.epoch() == 2);
  }
}

namespace {

// Images of different sizes: [N, 1, 8, 8] padded, sample i of height
// 1 + i % 8 and width 8 - i % 8 (from an .npz's `sizes`), with per-pixel
// masks [N, 8, 8] padded like them and one label each.
Split image_split(std::int64_t n) {
  Split s;
  s.inputs = torch::ones({n, 1, 8, 8});
  s.targets = torch::zeros({n, 8, 8}, torch::kInt64);
  s.extents = torch::empty({n, 2}, torch::kInt64);
  for (std::int64_t i = 0; i < n; ++i) {
    s.extents[i][0] = 1 + i % 8;
    s.extents[i][1] = 8 - i % 8;
  }
  s.varying_axes = {2, 3};
  s.align_end = true;
  return s;
}

// Sequences [n, 64] of lengths 1..64 in turn (from an .npz's `lengths`).
Split sequence_split(std::int64_t n) {
  Split s;
  s.inputs = torch::ones({n, 64});
  s.targets = torch::zeros({n}, torch::kInt64);
  s.extents = (torch::arange(n, torch::kInt64).remainder(64) + 1).unsqueeze(1);
  s.varying_axes = {1};
  return s;
}

}  // namespace

TEST_CASE("variable-size images: a batch is cut to its own largest height and width, masks with it",
          "[tuner][data]") {
  const Split s = image_split(16);
  // Samples 1 (2x7) and 2 (3x6): the batch is 3 high and 7 wide.
  auto [x, y] = gather(s, torch::tensor({1, 2}, torch::kInt64));
  CHECK(x.sizes().vec() == std::vector<std::int64_t>{2, 1, 3, 7});
  CHECK(y.sizes().vec() == std::vector<std::int64_t>{2, 3, 7});
  CHECK(padding_share(s, torch::tensor({1, 2}, torch::kInt64)) == Approx(1.0 - (14.0 + 18.0) / 42.0));
  // The worst case: the largest samples at the data's largest extent on both
  // dims, zero-padded past the padded shape where asked.
  auto [px, py] = gather_at_shape(s, largest_indices(s, 3), {1, 10, 12});
  CHECK(px.sizes().vec() == std::vector<std::int64_t>{3, 1, 10, 12});
  CHECK(py.sizes().vec() == std::vector<std::int64_t>{3, 10, 12});
  CHECK(px.sum().item<double>() == Approx(3 * 64.0));  // the padding is zeros
  // Largest by area: 4x5 and 5x4 (20 pixels) first.
  const auto big = largest_indices(s, 2);
  for (int k = 0; k < 2; ++k) {
    const auto e = s.extents[big[k].item<std::int64_t>()];
    CHECK(e[0].item<std::int64_t>() * e[1].item<std::int64_t>() == 20);
  }
}

TEST_CASE("bucketed batching draws every sample once per epoch and pads less than random batches",
          "[tuner][data]") {
  const std::int64_t n = 640;
  const Split s = sequence_split(n);
  BatchSampler padded(n, 3), bucketed(n, 3);
  bucketed.bucket_by(sample_sizes(s), 5);
  std::multiset<std::int64_t> seen;
  double pad_random = 0, pad_bucketed = 0;
  for (int step = 0; step < 40; ++step) {  // one epoch: 40 x 16
    const auto a = padded.next(16), b = bucketed.next(16);
    pad_random += padding_share(s, a) / 40;
    pad_bucketed += padding_share(s, b) / 40;
    for (int k = 0; k < 16; ++k) seen.insert(b[k].item<std::int64_t>());
  }
  CHECK(seen.size() == static_cast<std::size_t>(n));
  CHECK(std::set<std::int64_t>(seen.begin(), seen.end()).size() == static_cast<std::size_t>(n));
  CHECK(bucketed.epoch() == 0);
  // Random batches of 16 from lengths 1..64 pad about 45%; sorted windows of
  // 80 samples leave batches a few lengths apart.
  CHECK(pad_random > 0.35);
  CHECK(pad_bucketed < 0.5 * pad_random);
  // The same seed, the same batches; the next epoch is bucketed again.
  BatchSampler again(n, 3);
  again.bucket_by(sample_sizes(s), 5);
  BatchSampler replay = bucketed;
  CHECK(again.next(16).equal(BatchSampler(n, 3).next(16)) == false);
  double pad_next = 0;
  for (int step = 0; step < 40; ++step) pad_next += padding_share(s, replay.next(16)) / 40;
  CHECK(pad_next < 0.5 * pad_random);
  CHECK(replay.epoch() == 1);
}

TEST_CASE("bucketed batching stays aligned across epochs and batch sizes, with each batch's rows unsorted",
          "[tuner][data]") {
  // 650 sequences: an epoch of batches of 16 ends inside a batch.
  const std::int64_t n = 650;
  const Split s = sequence_split(n);
  BatchSampler random(n, 5), bucketed(n, 5);
  bucketed.bucket_by(bucket_keys(s), 5);
  const int per_epoch = static_cast<int>(n / 16);
  double pad_random = 0;
  std::vector<double> pad_epoch(3, 0.0);
  bool some_rows_unsorted = false;
  for (int step = 0; step < 3 * per_epoch; ++step) {
    pad_random += padding_share(s, random.next(16)) / (3 * per_epoch);
    const torch::Tensor b = bucketed.next(16);
    pad_epoch[static_cast<std::size_t>(step / per_epoch)] += padding_share(s, b) / per_epoch;
    const torch::Tensor lengths = s.extents.index_select(0, b).reshape({-1});
    some_rows_unsorted = some_rows_unsorted || !lengths.slice(0, 1).ge(lengths.slice(0, 0, -1)).all().item<bool>();
  }
  // Later epochs pad as little as the first (a batch straddling two epochs
  // aside): the batches stay aligned with where they start.
  for (double p : pad_epoch) CHECK(p < 0.5 * pad_random);
  CHECK(some_rows_unsorted);
  // Another batch size mid-epoch (a whole-run branch arm from a restored
  // sampler) lays out the rest of the epoch for it.
  BatchSampler branch = bucketed;
  double pad_64 = 0, pad_64_random = 0;
  BatchSampler random_64(n, 9);
  for (int step = 0; step < 8; ++step) {
    pad_64 += padding_share(s, branch.next(64)) / 8;
    pad_64_random += padding_share(s, random_64.next(64)) / 8;
  }
  CHECK(pad_64 < 0.7 * pad_64_random);  // its first batch straddles the old layout and an epoch
}

TEST_CASE("Markov token data knows its loss floor", "[tuner][data]") {
  CHECK(markov_entropy_rate(torch::full({8, 8}, 1.0 / 8)) == Approx(std::log(8.0)));
  CHECK(markov_entropy_rate(torch::eye(5).roll(1, 1)) == Approx(0.0).margin(1e-12));
  const Dataset d = make_markov_tokens(16, 12, {256, 64}, 3);
  REQUIRE(d.loss_floor.has_value());
  CHECK(*d.loss_floor > 0.0);
  CHECK(*d.loss_floor < std::log(16.0));
  CHECK(d.train.inputs.sizes() == torch::IntArrayRef({256, 12}));
  CHECK(d.train.inputs.slice(1, 1).equal(d.train.targets.slice(1, 0, 11)));
  CHECK(make_markov_tokens(16, 12, {256, 64}, 3).train.inputs.equal(d.train.inputs));
}
