// Loads Fashion-MNIST (the default workload's data) two ways in one run and
// prints each one's seconds and the ratio: batchtune's IDX reader (one
// inflate into a buffer sized from the gzip trailer, the test split on a
// second thread, a 256-entry table with exact byte statistics) against the
// element-wise path it replaced (zlib's gzread into a growing vector, then
// to float, / 255, mean, std, - mean, / std as tensor operations). Checks
// that the two agree to float rounding.
//
//   build/dev/bench/bench_idx_reader [REPEATS] [DIR]
#include <zlib.h>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tuner/workload/data_readers.hpp"

using namespace batchtune;
using clock_type = std::chrono::steady_clock;

namespace {

// The reader before: gzread in 64 KiB pieces appended to a vector.
std::vector<std::uint8_t> gzread_all(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "bench_idx_reader: cannot open %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<std::uint8_t> bytes;
  std::array<std::uint8_t, 1 << 16> buf{};
  for (int n; (n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0;) {
    bytes.insert(bytes.end(), buf.begin(), buf.begin() + n);
  }
  gzclose(f);
  return bytes;
}

torch::Tensor idx_tensor(const std::vector<std::uint8_t>& bytes) {
  const int dims = bytes[3];
  std::vector<std::int64_t> shape;
  std::size_t count = 1;
  for (int d = 0; d < dims; ++d) {
    const std::uint8_t* p = &bytes[4 + 4 * static_cast<std::size_t>(d)];
    shape.push_back((std::int64_t{p[0]} << 24) | (std::int64_t{p[1]} << 16) | (std::int64_t{p[2]} << 8) | p[3]);
    count *= static_cast<std::size_t>(shape.back());
  }
  auto t = torch::empty(shape, torch::kUInt8);
  std::memcpy(t.data_ptr<std::uint8_t>(), bytes.data() + 4 + 4 * dims, count);
  return t;
}

std::pair<torch::Tensor, torch::Tensor> elementwise(const std::string& dir) {
  const torch::Tensor train = idx_tensor(gzread_all(dir + "/train-images-idx3-ubyte.gz"));
  const torch::Tensor val = idx_tensor(gzread_all(dir + "/t10k-images-idx3-ubyte.gz"));
  idx_tensor(gzread_all(dir + "/train-labels-idx1-ubyte.gz")).to(torch::kInt64);
  idx_tensor(gzread_all(dir + "/t10k-labels-idx1-ubyte.gz")).to(torch::kInt64);
  auto to_float = [](const torch::Tensor& u8) { return u8.to(torch::kFloat32).div_(255.0f).unsqueeze(1); };
  torch::Tensor x = to_float(train);
  const float mean = x.mean().item<float>();
  const float stddev = x.std().item<float>();
  return {x.sub_(mean).div_(stddev), to_float(val).sub_(mean).div_(stddev)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const std::string dir = argc > 2 ? argv[2] : kFashionMnistDir;
  std::vector<double> ours, before;
  double worst = 0;
  for (int r = 0; r < repeats; ++r) {
    // Alternated, so drift on a shared machine falls on both.
    auto t0 = clock_type::now();
    const Dataset d = load_idx_dataset(dir, "fashion-mnist");
    ours.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    t0 = clock_type::now();
    const auto [train, val] = elementwise(dir);
    before.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    worst = std::max({worst, (d.train.inputs - train).abs().max().item<double>(),
                      (d.validation.inputs - val).abs().max().item<double>()});
  }
  std::printf("Fashion-MNIST from %s, median of %d loads each, alternated:\n", dir.c_str(), repeats);
  std::printf("  batchtune's IDX reader       %.3f s\n", median(ours));
  std::printf("  gzread + tensor operations   %.3f s\n", median(before));
  std::printf("  ratio (reader / before)      %.2f\n", median(ours) / median(before));
  std::printf("  largest difference in a standardised pixel: %.2g\n", worst);
  return worst < 1e-4 ? 0 : 1;
}
