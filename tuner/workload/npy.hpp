// NumPy's array files, read without Python: .npy (format versions 1.0, 2.0 and
// 3.0) and .npz archives of them (np.savez stores its members, np.savez_compressed
// deflates them; zip64 records are read). Only what a training set holds is
// supported: numeric arrays (bool, int8..int64, uint8..uint64, float16/32/64)
// in either byte order and either memory order. Torch-free: this is the file
// format, data_readers.hpp turns arrays into a Dataset.
//
// Every failure is an InputError naming the file (and the array inside an
// .npz) and what would fix it; nothing is allocated before the sizes a header
// promises are checked against the bytes that hold them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace batchtune {

enum class NpyType { boolean, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float16, float32, float64 };

std::string npy_type_name(NpyType type);  // NumPy's name: "float32", "uint8", "bool"
std::size_t npy_item_bytes(NpyType type);
bool npy_is_floating(NpyType type);

struct NpyArray {
  std::string where;  // for messages: "x.npy", or "data.npz (array 'x')"
  NpyType type = NpyType::float32;
  std::vector<std::int64_t> shape;  // empty for a 0-d array
  // The elements in C order and this machine's byte order: Fortran-order
  // arrays are transposed and byte-swapped ones swapped when read.
  std::vector<std::uint8_t> data;
  std::int64_t numel() const;
};

// One .npy image (header and data) held in `bytes`, which it takes over so
// that the common case (C order, little-endian) moves the data instead of
// copying it. Trailing bytes after the array are refused: np.save never writes
// them, and several arrays saved into one open file would load as the first.
NpyArray parse_npy(std::vector<std::uint8_t> bytes, const std::string& where);

// The magic NumPy and zip files start with, to tell them apart by content
// rather than by name.
enum class NpyFileKind { npy, npz };
// Throws InputError for a file that is neither (naming what its first bytes
// look like), and for a missing or unreadable one.
NpyFileKind npy_file_kind(const std::string& path);

NpyArray read_npy(const std::string& path);

// An .npz: a zip archive whose members are .npy files named after the
// arrays' keywords (np.savez(f, x=a) stores "x.npy").
class NpzArchive {
 public:
  // Reads the central directory; the members are read on demand.
  explicit NpzArchive(std::string path);
  const std::string& path() const { return path_; }
  // The arrays' names as np.load(f).files lists them (".npy" dropped).
  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  // Throws InputError listing the names it has when `name` is not one.
  NpyArray read(const std::string& name) const;

 private:
  struct Member {
    std::string name;  // without ".npy"
    std::uint16_t method = 0;
    std::uint16_t flags = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_bytes = 0;
    std::uint64_t uncompressed_bytes = 0;
    std::uint64_t local_header_offset = 0;
  };
  std::string path_;
  std::uint64_t file_bytes_ = 0;
  std::vector<Member> members_;
};

}  // namespace batchtune
