// NumPy files written byte by byte here (headers, stored and deflated zip
// members, zip64 records), read back by tuner/workload/npy and turned into
// datasets and workloads by --data npy.
#include "tests/support/catch.hpp"
#include "tests/support/temp_dir.hpp"

#include <torch/torch.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <set>

#include "reports/util/error.hpp"
#include "tuner/workload/data_readers.hpp"
#include "tuner/workload/npy.hpp"
#include "tuner/workload/workload.hpp"

namespace fs = std::filesystem;
using namespace batchtune;
using Bytes = std::vector<std::uint8_t>;

namespace {

using test::TempDir;  // tests/support/temp_dir.hpp: mkdtemp under $TMPDIR

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
Bytes raw(const std::vector<T>& values) {
  Bytes b(values.size() * sizeof(T));
  std::memcpy(b.data(), values.data(), b.size());
  return b;
}

// A .npy as np.save writes it: magic, version, header length, the dict padded
// with spaces to a multiple of 64 bytes and ended by a newline, then the data.
Bytes npy(const std::string& header, const Bytes& data, int major = 1) {
  Bytes b{0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const std::size_t prefix = b.size() + (major == 1 ? 2 : 4);
  std::string text = header;
  while ((prefix + text.size() + 1) % 64 != 0) text += ' ';
  text += '\n';
  const auto n = static_cast<std::uint32_t>(text.size());
  for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) b.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  b.insert(b.end(), text.begin(), text.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

void put16(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 2; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Bytes raw_deflate(const Bytes& in) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = const_cast<std::uint8_t*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Member {
  std::string name;
  Bytes data;
  std::uint16_t method = 0;  // 0 stored, 8 deflated (12: claimed bzip2, data stored)
};

// A zip archive as Python's zipfile writes it. zip64: every size and offset in
// the central directory saturated to 0xFFFFFFFF with the real values in a zip64
// extra field, and a zip64 end record with its locator (what numpy writes past 4 GiB).
Bytes zip(const std::vector<Member>& members, bool zip64 = false) {
  Bytes out, directory;
  for (const auto& m : members) {
    const Bytes body = m.method == 8 ? raw_deflate(m.data) : m.data;
    const auto crc = static_cast<std::uint32_t>(crc32(0L, m.data.data(), static_cast<uInt>(m.data.size())));
    const auto offset = static_cast<std::uint32_t>(out.size());
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0);
    put16(out, m.method);
    put16(out, 0);
    put16(out, 0x21);
    put32(out, crc);
    put32(out, static_cast<std::uint32_t>(body.size()));
    put32(out, static_cast<std::uint32_t>(m.data.size()));
    put16(out, static_cast<std::uint32_t>(m.name.size()));
    put16(out, 0);
    out.insert(out.end(), m.name.begin(), m.name.end());
    out.insert(out.end(), body.begin(), body.end());

    put32(directory, 0x02014b50);
    put16(directory, 45);
    put16(directory, 45);
    put16(directory, 0);
    put16(directory, m.method);
    put16(directory, 0);
    put16(directory, 0x21);
    put32(directory, crc);
    put32(directory, zip64 ? 0xFFFFFFFF : static_cast<std::uint32_t>(body.size()));
    put32(directory, zip64 ? 0xFFFFFFFF : static_cast<std::uint32_t>(m.data.size()));
    put16(directory, static_cast<std::uint32_t>(m.name.size()));
    put16(directory, zip64 ? 28 : 0);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put32(directory, 0);
    put32(directory, zip64 ? 0xFFFFFFFF : offset);
    directory.insert(directory.end(), m.name.begin(), m.name.end());
    if (zip64) {
      put16(directory, 0x0001);
      put16(directory, 24);
      put64(directory, m.data.size());
      put64(directory, body.size());
      put64(directory, offset);
    }
  }
  const auto directory_offset = static_cast<std::uint32_t>(out.size());
  out.insert(out.end(), directory.begin(), directory.end());
  if (zip64) {
    const auto zip64_end = out.size();
    put32(out, 0x06064b50);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, members.size());
    put64(out, members.size());
    put64(out, directory.size());
    put64(out, directory_offset);
    put32(out, 0x07064b50);
    put32(out, 0);
    put64(out, zip64_end);
    put32(out, 1);
  }
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, zip64 ? 0xFFFF : static_cast<std::uint32_t>(members.size()));
  put16(out, zip64 ? 0xFFFF : static_cast<std::uint32_t>(members.size()));
  put32(out, zip64 ? 0xFFFFFFFF : static_cast<std::uint32_t>(directory.size()));
  put32(out, zip64 ? 0xFFFFFFFF : directory_offset);
  put16(out, 0);
  return out;
}

template <typename T>
std::vector<T> values_of(const NpyArray& a) {
  REQUIRE(a.data.size() == static_cast<std::size_t>(a.numel()) * sizeof(T));
  std::vector<T> v(static_cast<std::size_t>(a.numel()));
  std::memcpy(v.data(), a.data.data(), a.data.size());
  return v;
}

template <typename T>
std::vector<T> values_of(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

// The message of the InputError (or UsageError) `f` throws; fails when it throws none or another.
template <typename ErrorType>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ErrorType& e) {
    return e.what();
  }
  FAIL("no error of the expected type was thrown");
  return "";
}

// n samples of 2 float32 features (sample i: i, -i) and int64 labels i % 3.
std::pair<Bytes, Bytes> classification_arrays(int n) {
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (int i = 0; i < n; ++i) {
    x.push_back(float(i));
    x.push_back(-float(i));
    y.push_back(i % 3);
  }
  const std::string rows = "(" + std::to_string(n);
  return {npy(dict("<f4", rows + ", 2)"), raw(x)), npy(dict("<i8", rows + ",)"), raw(y))};
}

}  // namespace

TEST_CASE("a .npy's header and data read back exactly", "[npy]") {
  SECTION("float32 [3, 2], C order") {
    const std::vector<float> v{1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, 7.0f};
    const NpyArray a = parse_npy(npy(dict("<f4", "(3, 2)"), raw(v)), "a.npy");
    CHECK(a.type == NpyType::float32);
    CHECK(a.shape == std::vector<std::int64_t>{3, 2});
    CHECK(values_of<float>(a) == v);
  }
  SECTION("the header as Python writes it in any spacing, quotes and key order") {
    const std::vector<std::int32_t> v{5, 6, 7};
    for (const std::string header :
         {"{\"shape\":(3,),\"fortran_order\":False,\"descr\":\"<i4\"}", "{ 'descr' : '<i4' ,\n 'fortran_order' : False , 'shape' : ( 3 , ) , }",
          "{'descr': '<i4', 'fortran_order': False, 'shape': (3L,)}"}) {
      const NpyArray a = parse_npy(npy(header, raw(v)), "a.npy");
      CHECK(a.shape == std::vector<std::int64_t>{3});
      CHECK(values_of<std::int32_t>(a) == v);
    }
  }
  SECTION("format versions 2.0 and 3.0 (4-byte header length)") {
    const std::vector<double> v{0.1, 0.2};
    for (int major : {2, 3}) {
      const NpyArray a = parse_npy(npy(dict("<f8", "(2,)"), raw(v), major), "a.npy");
      CHECK(values_of<double>(a) == v);
    }
  }
  SECTION("Fortran order is transposed to C order") {
    // np.asfortranarray([[0, 1, 2], [3, 4, 5]], dtype=np.int16) stores the columns: 0 3 1 4 2 5.
    const NpyArray a = parse_npy(npy(dict("<i2", "(2, 3)", true), raw(std::vector<std::int16_t>{0, 3, 1, 4, 2, 5})), "f.npy");
    CHECK(values_of<std::int16_t>(a) == std::vector<std::int16_t>{0, 1, 2, 3, 4, 5});
    // (2, 3, 2): element [i][j][k] = 100i + 10j + k, stored with i fastest, then j, then k.
    std::vector<std::int64_t> stored;
    for (int k = 0; k < 2; ++k)
      for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 2; ++i) stored.push_back(100 * i + 10 * j + k);
    const NpyArray b = parse_npy(npy(dict("<i8", "(2, 3, 2)", true), raw(stored)), "f.npy");
    std::vector<std::int64_t> c_order;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 2; ++k) c_order.push_back(100 * i + 10 * j + k);
    CHECK(values_of<std::int64_t>(b) == c_order);
  }
  SECTION("big-endian arrays are swapped; '|' and '=' are accepted") {
    const NpyArray a = parse_npy(npy(dict(">u2", "(2,)"), Bytes{0x01, 0x02, 0xAB, 0xCD}), "be.npy");
    CHECK(values_of<std::uint16_t>(a) == std::vector<std::uint16_t>{0x0102, 0xABCD});
    const NpyArray f = parse_npy(npy(dict(">f4", "(1,)"), Bytes{0x3F, 0xC0, 0x00, 0x00}), "be.npy");
    CHECK(values_of<float>(f) == std::vector<float>{1.5f});
    CHECK(parse_npy(npy(dict("|u1", "(2,)"), Bytes{7, 250}), "u.npy").type == NpyType::uint8);
    CHECK(values_of<float>(parse_npy(npy(dict("=f4", "(1,)"), raw(std::vector<float>{2.5f})), "n.npy")) ==
          std::vector<float>{2.5f});
  }
}

TEST_CASE("a broken or unusable .npy is refused in one line naming it", "[npy]") {
  const Bytes good = npy(dict("<f4", "(3, 2)"), Bytes(24, 0));
  auto message = [](const Bytes& b) { return error_of<InputError>([&] { parse_npy(b, "bad.npy"); }); };
  SECTION("bad magic") {
    Bytes b = good;
    b[1] = 'X';
    CHECK_THAT(message(b), Catch::StartsWith("bad.npy: not a .npy"));
  }
  SECTION("data shorter than the shape promises") {
    const Bytes b(good.begin(), good.end() - 5);
    const std::string m = message(b);
    CHECK_THAT(m, Catch::Contains("truncated") && Catch::Contains("(3, 2) float32 = 24 bytes") && Catch::Contains("holds 19"));
  }
  SECTION("trailing bytes after the array") {
    Bytes b = good;
    b.insert(b.end(), good.begin(), good.end());
    CHECK_THAT(message(b), Catch::Contains("after the array"));
  }
  SECTION("a header cut short") {
    const Bytes b(good.begin(), good.begin() + 40);
    CHECK_THAT(message(b), Catch::Contains("truncated inside the .npy header"));
  }
  SECTION("a shape whose size overflows is refused before any allocation") {
    const std::string m = message(npy(dict("<f8", "(1099511627776, 1099511627776, 1099511627776)"), Bytes(16, 0)));
    CHECK_THAT(m, Catch::Contains("truncated") && Catch::Contains("more than 2^64"));
  }
  SECTION("dtypes that are not numbers are named") {
    CHECK_THAT(message(npy(dict("|O", "(2,)"), Bytes(16, 0))), Catch::Contains("Python objects (pickled)") &&
                                                                   Catch::Contains("save a numeric array"));
    CHECK_THAT(message(npy(dict("<U10", "(2,)"), Bytes(80, 0))), Catch::Contains("unicode strings") && Catch::Contains("'<U10'"));
    CHECK_THAT(message(npy(dict("<c16", "(2,)"), Bytes(32, 0))), Catch::Contains("complex128"));
    CHECK_THAT(message(npy(dict("<f16", "(2,)"), Bytes(32, 0))), Catch::Contains("float128"));
    CHECK_THAT(message(npy(dict("<M8[ns]", "(2,)"), Bytes(16, 0))), Catch::Contains("datetime64"));
    CHECK_THAT(message(npy("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }", Bytes(16, 0))),
               Catch::Contains("structured array"));
  }
  SECTION("malformed headers and versions") {
    CHECK_THAT(message(npy("{'descr': '<f4', 'fortran_order': False}", Bytes(4, 0))), Catch::Contains("lacks"));
    CHECK_THAT(message(npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", Bytes(4, 0))),
               Catch::Contains("malformed .npy header"));
    CHECK_THAT(message(npy(dict("<f4", "(1,)") + "x", Bytes(4, 0))), Catch::Contains("malformed .npy header"));
    Bytes v9 = npy(dict("<f4", "(1,)"), Bytes(4, 0));
    v9[6] = 9;
    CHECK_THAT(message(v9), Catch::Contains("version 9.0"));
  }
}

TEST_CASE(".npz archives: stored, deflated and zip64 members", "[npy]") {
  TempDir dir;
  const std::vector<float> x{1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> y{0, 1, 2};
  const Member mx{"x.npy", npy(dict("<f4", "(3, 2)"), raw(x))};
  const Member my{"y.npy", npy(dict("<i8", "(3,)"), raw(y))};

  SECTION("np.savez (stored), np.savez_compressed (deflated) and zip64 records read alike") {
    for (const auto& [label, bytes] : {std::pair{"stored", zip({mx, my})},
                                       std::pair{"deflated", zip({{mx.name, mx.data, 8}, {my.name, my.data, 8}})},
                                       std::pair{"zip64", zip({mx, {my.name, my.data, 8}}, true)}}) {
      INFO(label);
      const std::string path = dir.file(std::string(label) + ".npz");
      write_file(path, bytes);
      CHECK(npy_file_kind(path) == NpyFileKind::npz);
      const NpzArchive npz(path);
      CHECK(npz.names() == std::vector<std::string>{"x", "y"});
      CHECK(values_of<float>(npz.read("x")) == x);
      CHECK(values_of<std::int64_t>(npz.read("y")) == y);
    }
  }
  SECTION("a missing array is named with the ones the archive holds") {
    write_file(dir.file("a.npz"), zip({mx, my}));
    CHECK_THAT(error_of<InputError>([&] { NpzArchive(dir.file("a.npz")).read("z"); }),
               Catch::Contains("no array 'z'") && Catch::Contains("it holds: x, y"));
  }
  SECTION("damaged archives") {
    Bytes bytes = zip({{mx.name, mx.data, 8}, my});
    write_file(dir.file("cut.npz"), Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)));
    CHECK_THAT(error_of<InputError>([&] { NpzArchive{dir.file("cut.npz")}; }),
               Catch::Contains("cut.npz") && Catch::Contains("no zip end record"));
    bytes[30 + 5 + raw_deflate(mx.data).size() / 2] ^= 0xFF;  // inside x's deflated data
    write_file(dir.file("flipped.npz"), bytes);
    CHECK_THAT(error_of<InputError>([&] { NpzArchive(dir.file("flipped.npz")).read("x"); }),
               Catch::Contains("flipped.npz (array 'x')") && Catch::Contains("corrupt"));
    write_file(dir.file("bzip2.npz"), zip({{mx.name, mx.data, 12}, my}));
    CHECK_THAT(error_of<InputError>([&] { NpzArchive(dir.file("bzip2.npz")).read("x"); }), Catch::Contains("bzip2"));
    write_file(dir.file("torch.npz"), zip({{"archive/data.pkl", Bytes(10, 1)}}));
    CHECK_THAT(error_of<InputError>([&] { NpzArchive{dir.file("torch.npz")}; }),
               Catch::Contains("without .npy members") && Catch::Contains("torch.save"));
  }
  SECTION("files that are neither") {
    write_file(dir.file("text.npz"), Bytes{'h', 'e', 'l', 'l', 'o'});
    CHECK_THAT(error_of<InputError>([&] { npy_file_kind(dir.file("text.npz")); }),
               Catch::Contains("neither a .npy nor an .npz") && Catch::Contains("68 65 6c 6c 6f"));
    write_file(dir.file("empty.npy"), Bytes{});
    CHECK_THAT(error_of<InputError>([&] { npy_file_kind(dir.file("empty.npy")); }), Catch::Contains("is empty"));
  }
}

TEST_CASE("NumPy data: the arrays decide the task", "[npy]") {
  TempDir dir;
  const NpyFiles npz{dir.file("d.npz"), "", "", ""};

  SECTION("float32 inputs and int64 labels: classification, 10% held out from the seed") {
    auto [x, y] = classification_arrays(50);
    write_file(npz.data_file, zip({{"x.npy", x}, {"y.npy", y, 8}}));
    const Dataset d = load_npy_dataset(npz, false, 0);
    CHECK(d.task == TaskKind::classification);
    CHECK(d.num_classes == 3);
    CHECK(d.sample_shape == std::vector<std::int64_t>{2});
    REQUIRE(d.validation.size() == 5);
    REQUIRE(d.train.size() == 45);
    CHECK_THAT(d.validation_note, Catch::Contains("random 10%") && Catch::Contains("5 of 50"));
    // Every sample is in exactly one split, with its own label.
    std::set<int> seen;
    for (const Split* s : {&d.train, &d.validation}) {
      const auto xs = values_of<float>(s->inputs);
      const auto ys = values_of<std::int64_t>(s->targets);
      for (std::int64_t i = 0; i < s->size(); ++i) {
        const int sample = static_cast<int>(xs[2 * i]);
        CHECK(xs[2 * i + 1] == -float(sample));
        CHECK(ys[i] == sample % 3);
        CHECK(seen.insert(sample).second);
      }
    }
    CHECK(seen.size() == 50);
    // The same seed holds out the same samples; another seed others.
    CHECK(torch::equal(load_npy_dataset(npz, false, 0).validation.inputs, d.validation.inputs));
    CHECK_FALSE(torch::equal(load_npy_dataset(npz, false, 1).validation.inputs, d.validation.inputs));
  }
  SECTION("x_val and y_val are the validation split; inputs/targets are the other names") {
    auto [x, y] = classification_arrays(8);
    auto [xv, yv] = classification_arrays(4);
    write_file(npz.data_file, zip({{"inputs.npy", x}, {"targets.npy", y}, {"inputs_val.npy", xv}, {"targets_val.npy", yv}}));
    const Dataset d = load_npy_dataset(npz, false, 0);
    CHECK(d.train.size() == 8);
    CHECK(d.validation.size() == 4);
    CHECK(values_of<float>(d.validation.inputs) == std::vector<float>{0, -0.f, 1, -1, 2, -2, 3, -3});
    CHECK_THAT(d.validation_note, Catch::Contains("inputs_val and targets_val"));
  }
  SECTION("--npy-inputs and --npy-targets choose the arrays") {
    auto [x, y] = classification_arrays(10);
    write_file(npz.data_file, zip({{"features.npy", x}, {"labels.npy", y}}));
    const Dataset d = load_npy_dataset({npz.data_file, "", "features", "labels"}, false, 0);
    CHECK(d.train.size() + d.validation.size() == 10);
    CHECK_THAT(error_of<InputError>([&] { load_npy_dataset(npz, false, 0); }),
               Catch::Contains("no array named x or inputs") && Catch::Contains("it holds: features, labels") &&
                   Catch::Contains("--npy-inputs"));
  }
  SECTION("float64 [N] targets: regression on [N, 1] float32; uint8 inputs become float32 as saved") {
    const Bytes x = npy(dict("|u1", "(10, 2, 2)"), Bytes{0, 1, 2, 255, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                                         20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39});
    std::vector<double> y;
    for (int i = 0; i < 10; ++i) y.push_back(0.25 * i);
    write_file(dir.file("x.npy"), x);
    write_file(dir.file("y.npy"), npy(dict("<f8", "(10,)"), raw(y)));
    const Dataset d = load_npy_dataset({dir.file("x.npy"), dir.file("y.npy"), "", ""}, false, 3);
    CHECK(d.task == TaskKind::regression);
    CHECK(d.target_shape == std::vector<std::int64_t>{1});
    CHECK(d.sample_shape == std::vector<std::int64_t>{2, 2});
    CHECK(d.train.inputs.scalar_type() == torch::kFloat32);
    CHECK(d.train.targets.sizes() == torch::IntArrayRef({9, 1}));
    // Sample i holds the bytes 4i .. 4i+3 (sample 0's last is 255) and the target i / 4: its first value / 16.
    const Split all{torch::cat({d.train.inputs, d.validation.inputs}), torch::cat({d.train.targets, d.validation.targets})};
    CHECK(all.inputs.sum().item<float>() == float(780 - 3 + 255));
    for (std::int64_t i = 0; i < 10; ++i) {
      CHECK(all.targets[i][0].item<float>() == float(all.inputs[i][0][0].item<float>() / 16.0));
    }
  }
  SECTION("integer [N, T] inputs and targets: language-model token ids (int64)") {
    std::vector<std::int32_t> x, y;
    for (int i = 0; i < 20 * 6; ++i) {
      x.push_back(i % 17);
      y.push_back((i + 1) % 17);
    }
    write_file(npz.data_file, zip({{"x.npy", npy(dict("<i4", "(20, 6)"), raw(x))}, {"y.npy", npy(dict("<u2", "(20, 6)"), raw(std::vector<std::uint16_t>(y.begin(), y.end())))}}));
    const Dataset d = load_npy_dataset(npz, false, 0);
    CHECK(d.task == TaskKind::language_model);
    CHECK(d.num_classes == 17);
    CHECK(d.sample_shape == std::vector<std::int64_t>{6});
    CHECK(d.train.inputs.scalar_type() == torch::kInt64);
    CHECK(d.train.targets.scalar_type() == torch::kInt64);
    CHECK(torch::equal(d.train.targets, (d.train.inputs + 1).remainder(17)));
  }
  SECTION("float16, bool and uint32 inputs become float32 exactly") {
    const std::vector<std::uint16_t> halves{0x3E00, 0x4080, 0xC000, 0x0000};  // 1.5, 2.25, -2, 0
    const Bytes labels = npy(dict("<i8", "(4,)"), raw(std::vector<std::int64_t>{0, 1, 0, 1}));
    const Bytes val_labels = npy(dict("<i8", "(1,)"), raw(std::vector<std::int64_t>{0}));
    auto inputs = [&](const Bytes& x, const Bytes& xv) {
      write_file(npz.data_file, zip({{"x.npy", x}, {"y.npy", labels}, {"x_val.npy", xv}, {"y_val.npy", val_labels}}));
      return values_of<float>(load_npy_dataset(npz, false, 0).train.inputs);
    };
    CHECK(inputs(npy(dict("<f2", "(4,)"), raw(halves)), npy(dict("<f2", "(1,)"), raw(std::vector<std::uint16_t>{0}))) ==
          std::vector<float>{1.5f, 2.25f, -2.0f, 0.0f});
    CHECK(inputs(npy(dict("|b1", "(4,)"), Bytes{1, 0, 0, 1}), npy(dict("|b1", "(1,)"), Bytes{1})) ==
          std::vector<float>{1, 0, 0, 1});
    CHECK(inputs(npy(dict("<u4", "(4,)"), raw(std::vector<std::uint32_t>{4000000000u, 0, 7, 65536})),
                 npy(dict("<u4", "(1,)"), raw(std::vector<std::uint32_t>{1}))) ==
          std::vector<float>{4e9f, 0, 7, 65536});
  }
  SECTION("--loss mse makes integer targets regression targets") {
    auto [x, y] = classification_arrays(10);
    write_file(npz.data_file, zip({{"x.npy", x}, {"y.npy", y}}));
    const Dataset d = load_npy_dataset(npz, true, 0);
    CHECK(d.task == TaskKind::regression);
    CHECK(d.train.targets.scalar_type() == torch::kFloat32);
  }
}

TEST_CASE("NumPy data: what it cannot train on is refused, naming the file and the fix", "[npy]") {
  TempDir dir;
  const std::string path = dir.file("d.npz");
  const NpyFiles npz{path, "", "", ""};
  auto [x, y] = classification_arrays(10);
  auto input_error = [&](const std::vector<Member>& members) {
    write_file(path, zip(members));
    return error_of<InputError>([&] { load_npy_dataset(npz, false, 0); });
  };

  SECTION("NaN or infinity in the inputs") {
    std::vector<float> v(20, 1.0f);
    v[7] = std::numeric_limits<float>::quiet_NaN();
    v[12] = std::numeric_limits<float>::infinity();
    CHECK_THAT(input_error({{"x.npy", npy(dict("<f4", "(10, 2)"), raw(v))}, {"y.npy", y}}),
               Catch::Contains("d.npz (array 'x')") && Catch::Contains("2 of 20 values are NaN or infinite") &&
                   Catch::Contains("first in sample 3"));
    // float64 values beyond float32's range are infinite once converted.
    std::vector<double> big(20, 1.0);
    big[0] = 1e300;
    CHECK_THAT(input_error({{"x.npy", npy(dict("<f8", "(10, 2)"), raw(big))}, {"y.npy", y}}),
               Catch::Contains("NaN or infinite (as float32)"));
  }
  SECTION("inputs and targets of different lengths") {
    const Bytes y9 = npy(dict("<i8", "(9,)"), raw(std::vector<std::int64_t>(9, 0)));
    CHECK_THAT(input_error({{"x.npy", x}, {"y.npy", y9}}),
               Catch::Contains("9 targets") && Catch::Contains("for 10 inputs"));
  }
  SECTION("zero samples, a 0-d array, and a single sample") {
    CHECK_THAT(input_error({{"x.npy", npy(dict("<f4", "(0, 2)"), {})}, {"y.npy", y}}), Catch::Contains("zero samples"));
    CHECK_THAT(input_error({{"x.npy", npy(dict("<f4", "()"), raw(std::vector<float>{1}))}, {"y.npy", y}}),
               Catch::Contains("single number"));
    CHECK_THAT(input_error({{"x.npy", npy(dict("<f4", "(1, 2)"), raw(std::vector<float>{1, 2}))},
                            {"y.npy", npy(dict("<i8", "(1,)"), raw(std::vector<std::int64_t>{0}))}}),
               Catch::Contains("at least 2"));
  }
  SECTION("one validation array without the other") {
    CHECK_THAT(input_error({{"x.npy", x}, {"y.npy", y}, {"x_val.npy", x}}),
               Catch::Contains("x_val but not y_val"));
  }
  SECTION("integer targets that are neither labels nor token ids") {
    CHECK_THAT(input_error({{"x.npy", x}, {"y.npy", npy(dict("<i8", "(10, 3)"), raw(std::vector<std::int64_t>(30, 1)))}}),
               Catch::Contains("(10, 3)") && Catch::Contains("astype(np.float32)"));
  }
  SECTION("negative labels") {
    CHECK_THAT(input_error({{"x.npy", x}, {"y.npy", npy(dict("<i8", "(10,)"), raw(std::vector<std::int64_t>{0, 1, -1, 0, 1, 0, 1, 0, 1, 0}))}}),
               Catch::Contains("negative label -1"));
  }
  SECTION("option combinations that cannot work are usage errors") {
    write_file(path, zip({{"x.npy", x}, {"y.npy", y}}));
    write_file(dir.file("x.npy"), x);
    write_file(dir.file("y.npy"), y);
    auto usage = [&](const NpyFiles& f) { return error_of<UsageError>([&] { load_npy_dataset(f, false, 0); }); };
    CHECK_THAT(usage({"", "", "", ""}), Catch::Contains("needs --data-file"));
    CHECK_THAT(usage({path, dir.file("y.npy"), "", ""}), Catch::Contains("--target-file") && Catch::Contains("is an .npz"));
    CHECK_THAT(usage({dir.file("x.npy"), "", "", ""}), Catch::Contains("--target-file"));
    CHECK_THAT(usage({dir.file("x.npy"), dir.file("y.npy"), "x", ""}), Catch::Contains("--npy-inputs"));
    CHECK_THAT(usage({path, "", "x", "x"}), Catch::Contains("both name"));
  }
}

TEST_CASE("NumPy data builds workloads: built-in models and an int64-token TorchScript model", "[npy]") {
  TempDir dir;
  WorkloadSpec spec;
  spec.data = "npy";
  spec.data_file = dir.file("d.npz");
  spec.device = "cpu";
  spec.mlp.hidden = {8};

  SECTION("an mlp on labels (cross entropy) and on floating targets (mse)") {
    auto [x, y] = classification_arrays(40);
    write_file(spec.data_file, zip({{"x.npy", x}, {"y.npy", y}}));
    const Workload w = Workload::create(spec);
    CHECK(w.info().task == "classification");
    CHECK(w.info().loss == "cross_entropy");
    CHECK(w.info().num_classes == 3);
    spec.num_classes = 5;  // --num-classes is honoured
    CHECK(Workload::create(spec).info().num_classes == 5);
    spec.num_classes = 2;
    CHECK_THAT(error_of<InputError>([&] { Workload::create(spec); }), Catch::Contains("outside --num-classes 2"));

    spec.num_classes = 0;
    write_file(spec.data_file, zip({{"x.npy", x}, {"y.npy", npy(dict("<f4", "(40, 3)"), raw(std::vector<float>(120, 0.5f)))}}));
    const Workload r = Workload::create(spec);
    CHECK(r.info().task == "regression");
    CHECK(r.info().loss == "mse");
    spec.loss = "cross_entropy";
    CHECK_THAT(error_of<UsageError>([&] { Workload::create(spec); }), Catch::Contains("y.astype(np.int64)"));
  }
  SECTION("gpt and a TorchScript model on integer token arrays") {
    std::vector<std::int64_t> x, y;
    for (int i = 0; i < 30 * 8; ++i) {
      x.push_back((i * 7) % 31);
      y.push_back((i * 7 + 7) % 31);
    }
    write_file(spec.data_file, zip({{"x.npy", npy(dict("<i8", "(30, 8)"), raw(x))}, {"y.npy", npy(dict("<i8", "(30, 8)"), raw(y))}}));
    spec.model = "gpt";
    spec.gpt = {32, 8, 16, 1, 2};
    const Workload g = Workload::create(spec);
    CHECK(g.info().task == "language_model");
    spec.gpt.context = 4;
    CHECK_THAT(error_of<UsageError>([&] { Workload::create(spec); }), Catch::Contains("pass --gpt-context 8"));
    spec.gpt = {16, 8, 16, 1, 2};
    CHECK_THAT(error_of<InputError>([&] { Workload::create(spec); }), Catch::Contains("--gpt-vocab 31"));

    spec.model = std::string(BATCHTUNE_FIXTURES_DIR) + "/tiny_token_lm.pt";
    const Workload t = Workload::create(spec);
    CHECK(t.info().task == "language_model");
    auto model = t.make_model();
    auto optimizer = t.make_optimizer(*model, 0.1);
    BatchSampler sampler = t.make_sampler();
    auto [bx, by] = t.next_batch(sampler, 8);
    const float first = train_step(*model, *optimizer, t, bx, by).item<float>();
    CHECK(std::isfinite(first));
    CHECK(first > 0.0f);
  }
  SECTION("--target-file and --npy-* with another --data are refused") {
    spec.data = "synthetic";
    spec.target_file = "y.npy";
    CHECK_THAT(error_of<UsageError>([&] { Workload::create(spec); }), Catch::Contains("--target-file is for --data npy"));
  }
}

TEST_CASE("damaged .npy and .npz bytes give an InputError, never a crash", "[npy]") {
  TempDir dir;
  const Bytes one = npy(dict("<f4", "(4, 3)", true), raw(std::vector<float>(12, 1.0f)));
  const Bytes archive = zip({{"x.npy", one, 8}, {"y.npy", npy(dict(">i8", "(4,)"), Bytes(32, 0))}}, true);
  std::mt19937 rng(7);
  int refused = 0, read = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const bool as_npz = trial % 2 == 1;
    Bytes b = as_npz ? archive : one;
    if (trial % 3 == 0) {
      b.resize(rng() % b.size());
    } else {
      for (unsigned flips = 1 + rng() % 3; flips > 0; --flips) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    }
    try {
      if (as_npz) {
        const std::string path = dir.file("fuzz.npz");
        write_file(path, b);
        const NpzArchive z(path);
        for (const auto& name : z.names()) z.read(name);
      } else {
        parse_npy(b, "fuzz.npy");
      }
      ++read;
    } catch (const InputError& e) {
      ++refused;
      CHECK(std::string(e.what()).find("fuzz.np") != std::string::npos);
    }
  }
  CHECK(refused > 1000);
  CHECK(read > 0);  // flips in the header's padding or the data still read
}
