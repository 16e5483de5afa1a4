#include "tuner/workload/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "reports/util/error.hpp"
#include "tuner/workload/machine_probe.hpp"

namespace batchtune {
namespace {

constexpr bool kHostLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
const char kNpyMagic[] = "\x93NUMPY";
constexpr std::size_t kNpyMagicBytes = 6;

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
std::uint64_t le64(const std::uint8_t* p) { return std::uint64_t{le32(p)} | (std::uint64_t{le32(p + 4)} << 32); }

// A read-only file read at offsets: an .npz is read member by member, never whole.
class File {
 public:
  explicit File(const std::string& path) : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
    struct stat st {};
    if (fstat(fd_, &st) != 0) {
      ::close(fd_);
      throw InputError(path + ": cannot read its size (" + std::strerror(errno) + ")");
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~File() { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  std::uint64_t size() const { return size_; }
  // Exactly `n` bytes at `offset`; the caller has checked that they lie inside the file.
  std::vector<std::uint8_t> read_at(std::uint64_t offset, std::uint64_t n) const {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(n));
    std::uint64_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, out.data() + done, static_cast<std::size_t>(std::min<std::uint64_t>(n - done, 1u << 30)),
                                  static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw InputError(path_ + ": read error (" + std::strerror(errno) + ")");
      if (got == 0) throw InputError(path_ + ": truncated while reading (the file shrank?)");
      done += static_cast<std::uint64_t>(got);
    }
    return out;
  }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_ = 0;
};

// Refuses to hold more than this process may use: a header (or a zip entry)
// that promises 2^40 bytes fails here, not in the allocator.
void require_memory(std::uint64_t bytes, const std::string& where, const std::string& what) {
  const std::uint64_t usable = usable_memory_bytes();
  if (bytes > usable) {
    throw InputError(where + ": " + what + " " + format_bytes(bytes) + ", more than the " + format_bytes(usable) +
                     " this process may use; use fewer samples or a machine with more memory");
  }
}

// ---------------------------------------------------------------- the header

struct Descr {
  NpyType type;
  bool swap;  // stored in the other byte order than this machine's
};

// A dtype string as np.lib.format writes it (dtype.str): byte order, kind, size.
Descr parse_descr(const std::string& descr, const std::string& where) {
  std::size_t pos = 0;
  char order = '=';
  if (!descr.empty() && std::strchr("<>|=", descr[0])) order = descr[pos++];
  const char kind = pos < descr.size() ? descr[pos++] : '\0';
  const std::string rest = descr.substr(pos);
  auto refuse = [&](const std::string& what, const std::string& fix) -> Descr {
    throw InputError(where + ": dtype '" + descr + "' holds " + what + "; " + fix);
  };
  switch (kind) {
    case 'O':
      return refuse("Python objects (pickled)", "save a numeric array, e.g. np.asarray(a, dtype=np.float32)");
    case 'U':
      return refuse("unicode strings", "save numbers: class labels as integers 0..K-1");
    case 'S':
    case 'a':
      return refuse("byte strings", "save numbers: class labels as integers 0..K-1");
    case 'c':
      return refuse("complex" + std::to_string(8 * std::atoi(rest.c_str())) + " numbers",
                    "save the real and imaginary parts as separate real-valued features");
    case 'M':
    case 'm':
      return refuse(std::string(kind == 'M' ? "datetime64 dates" : "timedelta64 time spans"),
                    "convert them to numbers (e.g. .astype(np.int64) or seconds as float32)");
    case 'V':
      return refuse("raw or structured records", "save each field as its own numeric array");
    default:
      break;
  }
  const bool digits = !rest.empty() && rest.size() <= 2 &&
                      std::all_of(rest.begin(), rest.end(), [](unsigned char c) { return std::isdigit(c); });
  const int size = digits ? std::atoi(rest.c_str()) : 0;
  std::optional<NpyType> type;
  if (kind == 'b' && size == 1) type = NpyType::boolean;
  if (kind == 'i') {
    if (size == 1) type = NpyType::int8;
    if (size == 2) type = NpyType::int16;
    if (size == 4) type = NpyType::int32;
    if (size == 8) type = NpyType::int64;
  }
  if (kind == 'u') {
    if (size == 1) type = NpyType::uint8;
    if (size == 2) type = NpyType::uint16;
    if (size == 4) type = NpyType::uint32;
    if (size == 8) type = NpyType::uint64;
  }
  if (kind == 'f') {
    if (size == 2) type = NpyType::float16;
    if (size == 4) type = NpyType::float32;
    if (size == 8) type = NpyType::float64;
    if (size == 12 || size == 16) {
      return refuse("float" + std::to_string(8 * size) + " (long double) numbers", "save it as float64 or float32");
    }
  }
  if (!type) {
    throw InputError(where + ": dtype '" + descr + "' is not supported; batchtune reads bool, int8 to int64, "
                     "uint8 to uint64 and float16, float32, float64");
  }
  const bool big = order == '>' || (order == '=' && !kHostLittleEndian);
  return {*type, npy_item_bytes(*type) > 1 && big == kHostLittleEndian};
}

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 2), } padded with spaces to a multiple of 64 bytes. Parsed as
// that literal: any spacing, either quote, trailing commas, keys in any order;
// anything else is refused.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& where) : text_(text), where_(where) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!eat('}')) {
      const std::string key = string_literal();
      expect(':');
      bool* seen = nullptr;
      if (key == "descr") {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == '[') {
          throw InputError(where_ + ": holds a structured array (named fields); save each field as its own numeric "
                           "array");
        }
        h.descr = string_literal();
        seen = &seen_descr;
      } else if (key == "fortran_order") {
        const std::string word = identifier();
        if (word != "True" && word != "False") fail("fortran_order is " + word + ", not True or False");
        h.fortran_order = word == "True";
        seen = &seen_order;
      } else if (key == "shape") {
        h.shape = tuple();
        seen = &seen_shape;
      } else {
        fail("unknown header key '" + key + "'");
      }
      if (*seen) fail("header key '" + key + "' appears twice");
      *seen = true;
      if (!eat(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("text after the header's closing brace");
    if (!seen_descr || !seen_order || !seen_shape) fail("the header lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(where_ + ": malformed .npy header (" + what + "); write the file again with np.save");
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "' at byte " + std::to_string(pos_));
  }
  std::string string_literal() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      fail("expected a quoted string at byte " + std::to_string(pos_));
    }
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  std::string identifier() {
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (start == pos_) fail("expected True or False at byte " + std::to_string(start));
    return text_.substr(start, pos_ - start);
  }
  std::int64_t integer() {
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (start == pos_) fail("expected a size in the shape at byte " + std::to_string(start));
    if (pos_ - start > 18) fail("a dimension of " + text_.substr(start, pos_ - start) + " is too large");
    const std::int64_t v = std::stoll(text_.substr(start, pos_ - start));
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;  // Python 2's long
    return v;
  }
  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> dims;
    expect('(');
    while (!eat(')')) {
      dims.push_back(integer());
      if (!eat(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

  const std::string& text_;
  const std::string& where_;
  std::size_t pos_ = 0;
};

template <typename Word>
void swap_bytes(std::uint8_t* data, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    std::uint8_t* p = data + i * sizeof(Word);
    std::reverse(p, p + sizeof(Word));
  }
}

// Column-major (Fortran) elements into row-major (C) order: walk the C order
// with a multi-index and follow the Fortran offset beside it.
template <std::size_t ItemBytes>
std::vector<std::uint8_t> fortran_to_c(const std::uint8_t* in, const std::vector<std::int64_t>& shape, std::size_t count) {
  std::vector<std::uint8_t> out(count * ItemBytes);
  const std::size_t dims = shape.size();
  std::vector<std::int64_t> stride(dims), index(dims, 0);
  std::int64_t s = 1;
  for (std::size_t d = 0; d < dims; ++d) {
    stride[d] = s;
    s *= shape[d];
  }
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(out.data() + i * ItemBytes, in + static_cast<std::size_t>(offset) * ItemBytes, ItemBytes);
    for (std::size_t d = dims; d-- > 0;) {
      offset += stride[d];
      if (++index[d] < shape[d]) break;
      offset -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

std::string describe_shape(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

std::string npy_type_name(NpyType type) {
  switch (type) {
    case NpyType::boolean: return "bool";
    case NpyType::int8: return "int8";
    case NpyType::int16: return "int16";
    case NpyType::int32: return "int32";
    case NpyType::int64: return "int64";
    case NpyType::uint8: return "uint8";
    case NpyType::uint16: return "uint16";
    case NpyType::uint32: return "uint32";
    case NpyType::uint64: return "uint64";
    case NpyType::float16: return "float16";
    case NpyType::float32: return "float32";
    case NpyType::float64: return "float64";
  }
  return "?";
}

std::size_t npy_item_bytes(NpyType type) {
  switch (type) {
    case NpyType::boolean:
    case NpyType::int8:
    case NpyType::uint8: return 1;
    case NpyType::int16:
    case NpyType::uint16:
    case NpyType::float16: return 2;
    case NpyType::int32:
    case NpyType::uint32:
    case NpyType::float32: return 4;
    case NpyType::int64:
    case NpyType::uint64:
    case NpyType::float64: return 8;
  }
  return 1;
}

bool npy_is_floating(NpyType type) {
  return type == NpyType::float16 || type == NpyType::float32 || type == NpyType::float64;
}

std::int64_t NpyArray::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

NpyArray parse_npy(std::vector<std::uint8_t> bytes, const std::string& where) {
  if (bytes.size() < kNpyMagicBytes + 4 || std::memcmp(bytes.data(), kNpyMagic, kNpyMagicBytes) != 0) {
    throw InputError(where + ": not a .npy array (bad magic; a .npy starts with \\x93NUMPY); write it with np.save");
  }
  const int major = bytes[6], minor = bytes[7];
  std::size_t header_start = 0, header_bytes = 0;
  if (major == 1 && minor == 0) {
    header_start = 10;
    header_bytes = le16(&bytes[8]);
  } else if ((major == 2 || major == 3) && minor == 0 && bytes.size() >= 12) {
    header_start = 12;
    header_bytes = le32(&bytes[8]);
  } else {
    throw InputError(where + ": .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                     " is not supported (1.0, 2.0 and 3.0 are); write it with np.save");
  }
  if (header_bytes > bytes.size() - header_start) {
    throw InputError(where + ": truncated inside the .npy header (" + std::to_string(bytes.size()) + " bytes)");
  }
  const std::string text(reinterpret_cast<const char*>(&bytes[header_start]), header_bytes);
  const Header header = HeaderParser(text, where).parse();
  const Descr descr = parse_descr(header.descr, where);
  const std::size_t item = npy_item_bytes(descr.type);

  // Sizes are checked before anything is allocated: (2^40, 2^40) must not wrap.
  std::uint64_t count = 1;
  for (auto d : header.shape) {
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) count = UINT64_MAX;
  }
  std::uint64_t promised = 0;
  if (__builtin_mul_overflow(count, std::uint64_t{item}, &promised)) promised = UINT64_MAX;
  const std::size_t data_start = header_start + header_bytes;
  const std::uint64_t held = bytes.size() - data_start;
  const std::string described = "shape " + describe_shape(header.shape) + " " + npy_type_name(descr.type);
  if (promised > held) {
    throw InputError(where + ": truncated: the header promises " + described + " = " +
                     (promised == UINT64_MAX ? std::string("more than 2^64") : std::to_string(promised)) +
                     " bytes, the file holds " + std::to_string(held) + " after the header; save it again");
  }
  if (promised < held) {
    throw InputError(where + ": " + std::to_string(held - promised) + " bytes after the array's " + described +
                     " (several arrays saved into one file?); save one array per .npy, or use np.savez");
  }

  NpyArray a;
  a.where = where;
  a.type = descr.type;
  a.shape = header.shape;
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(data_start));
  const auto n = static_cast<std::size_t>(count);
  if (descr.swap) {
    if (item == 2) swap_bytes<std::uint16_t>(bytes.data(), n);
    if (item == 4) swap_bytes<std::uint32_t>(bytes.data(), n);
    if (item == 8) swap_bytes<std::uint64_t>(bytes.data(), n);
  }
  if (header.fortran_order && a.shape.size() > 1 && n > 0) {
    switch (item) {
      case 1: bytes = fortran_to_c<1>(bytes.data(), a.shape, n); break;
      case 2: bytes = fortran_to_c<2>(bytes.data(), a.shape, n); break;
      case 4: bytes = fortran_to_c<4>(bytes.data(), a.shape, n); break;
      default: bytes = fortran_to_c<8>(bytes.data(), a.shape, n); break;
    }
  }
  a.data = std::move(bytes);
  return a;
}

NpyFileKind npy_file_kind(const std::string& path) {
  const File file(path);
  const std::vector<std::uint8_t> head = file.read_at(0, std::min<std::uint64_t>(file.size(), 8));
  auto starts_with = [&](const char* magic, std::size_t n) {
    return head.size() >= n && std::memcmp(head.data(), magic, n) == 0;
  };
  if (starts_with(kNpyMagic, kNpyMagicBytes)) return NpyFileKind::npy;
  if (starts_with("PK\x03\x04", 4) || starts_with("PK\x05\x06", 4)) return NpyFileKind::npz;
  if (head.empty()) throw InputError(path + ": is empty; write the arrays with np.savez (or np.save)");
  if (starts_with("\x1f\x8b", 2)) {
    throw InputError(path + ": is gzip-compressed; gunzip it, or save with np.savez_compressed instead");
  }
  std::string shown;
  for (std::uint8_t c : head) {
    static const char hex[] = "0123456789abcdef";
    shown += std::string(shown.empty() ? "" : " ") + hex[c >> 4] + hex[c & 15];
  }
  throw InputError(path + ": neither a .npy nor an .npz file (it starts with bytes " + shown +
                   "); write it with np.save or np.savez");
}

NpyArray read_npy(const std::string& path) {
  const File file(path);
  require_memory(file.size(), path, "reading it needs");
  return parse_npy(file.read_at(0, file.size()), path);
}

NpzArchive::NpzArchive(std::string path) : path_(std::move(path)) {
  const File file(path_);
  file_bytes_ = file.size();
  auto broken = [&](const std::string& what) {
    return InputError(path_ + ": " + what + "; the .npz is truncated or corrupt, save it again with np.savez");
  };
  // The end-of-central-directory record: 22 bytes and a comment of up to 64 KiB, at the very end.
  constexpr std::uint32_t kEndSignature = 0x06054b50, kZip64LocatorSignature = 0x07064b50,
                          kZip64EndSignature = 0x06064b50, kEntrySignature = 0x02014b50;
  if (file_bytes_ < 22) throw broken("too short for a zip archive (" + std::to_string(file_bytes_) + " bytes)");
  const std::uint64_t tail_start = file_bytes_ - std::min<std::uint64_t>(file_bytes_, 22 + 65535);
  const std::vector<std::uint8_t> tail = file.read_at(tail_start, file_bytes_ - tail_start);
  std::optional<std::size_t> end;
  for (std::size_t i = tail.size() - 22 + 1; i-- > 0;) {
    if (le32(&tail[i]) == kEndSignature && i + 22 + le16(&tail[i + 20]) <= tail.size()) {
      end = i;
      break;
    }
  }
  if (!end) throw broken("no zip end record");
  const std::uint8_t* e = &tail[*end];
  const auto multi_part = [&] {
    return InputError(path_ + ": a multi-part zip archive, which batchtune does not read; save one .npz with np.savez");
  };
  std::uint64_t entries = le16(e + 10), directory_bytes = le32(e + 12), directory_offset = le32(e + 16);
  // Zip64 (numpy writes it when an archive passes 4 GiB or 65535 members): a
  // locator just before the end record points at the 64-bit end record,
  // which then holds the disk numbers too (the 32-bit record's may read
  // 0xFFFF, as some writers leave them).
  const std::uint64_t end_offset = tail_start + *end;
  if (*end >= 20 && le32(&tail[*end - 20]) == kZip64LocatorSignature) {
    const std::uint8_t* locator = &tail[*end - 20];
    if (le32(locator + 4) != 0 || le32(locator + 16) > 1) throw multi_part();
    const std::uint64_t zip64_end = le64(locator + 8);
    if (zip64_end > end_offset || end_offset - zip64_end < 56) throw broken("a bad zip64 locator");
    const std::vector<std::uint8_t> z = file.read_at(zip64_end, 56);
    if (le32(z.data()) != kZip64EndSignature) throw broken("a zip64 locator without its end record");
    if (le32(&z[16]) != 0 || le32(&z[20]) != 0) throw multi_part();
    entries = le64(&z[32]);
    directory_bytes = le64(&z[40]);
    directory_offset = le64(&z[48]);
  } else if (le16(e + 4) != 0 || le16(e + 6) != 0) {
    throw multi_part();
  } else if (entries == 0xFFFF || directory_bytes == 0xFFFFFFFF || directory_offset == 0xFFFFFFFF) {
    throw broken("a zip64 end record without its locator");
  }
  if (directory_offset > end_offset || directory_bytes > end_offset - directory_offset ||
      entries > directory_bytes / 46 + 1) {
    throw broken("a central directory outside the file");
  }
  const std::vector<std::uint8_t> dir = file.read_at(directory_offset, directory_bytes);
  std::size_t pos = 0;
  std::size_t other_members = 0;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (pos + 46 > dir.size() || le32(&dir[pos]) != kEntrySignature) throw broken("a damaged central directory");
    const std::uint8_t* c = &dir[pos];
    Member m;
    m.flags = le16(c + 8);
    m.method = le16(c + 10);
    m.crc32 = le32(c + 16);
    m.compressed_bytes = le32(c + 20);
    m.uncompressed_bytes = le32(c + 24);
    const std::size_t name_bytes = le16(c + 28), extra_bytes = le16(c + 30), comment_bytes = le16(c + 32);
    m.local_header_offset = le32(c + 42);
    if (pos + 46 + name_bytes + extra_bytes + comment_bytes > dir.size()) throw broken("a damaged central directory");
    std::string name(reinterpret_cast<const char*>(c + 46), name_bytes);
    // The zip64 extra field holds, in this order, only the fields saturated above.
    const std::uint8_t* extra = c + 46 + name_bytes;
    for (std::size_t x = 0; x + 4 <= extra_bytes;) {
      const std::uint16_t id = le16(extra + x), size = le16(extra + x + 2);
      if (x + 4 + size > extra_bytes) break;
      if (id == 0x0001) {
        const std::uint8_t* f = extra + x + 4;
        std::size_t left = size;
        for (std::uint64_t* field : {&m.uncompressed_bytes, &m.compressed_bytes, &m.local_header_offset}) {
          if (*field != 0xFFFFFFFF) continue;
          if (left < 8) throw broken("a short zip64 field for " + name);
          *field = le64(f);
          f += 8;
          left -= 8;
        }
      }
      x += 4 + size;
    }
    pos += 46 + name_bytes + extra_bytes + comment_bytes;
    if (!name.empty() && name.back() == '/') continue;  // a folder
    const std::string suffix = ".npy";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      ++other_members;
      continue;
    }
    m.name = name.substr(0, name.size() - suffix.size());
    members_.push_back(std::move(m));
  }
  if (members_.empty()) {
    throw InputError(path_ + ": a zip archive without .npy members" +
                     (other_members ? " (" + std::to_string(other_members) + " other files: a torch.save file?)"
                                    : std::string(" (empty)")) +
                     "; save the arrays with np.savez(\"data.npz\", x=inputs, y=targets)");
  }
}

std::vector<std::string> NpzArchive::names() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m.name);
  return out;
}

bool NpzArchive::has(const std::string& name) const {
  return std::any_of(members_.begin(), members_.end(), [&](const Member& m) { return m.name == name; });
}

NpyArray NpzArchive::read(const std::string& name) const {
  const auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& m) { return m.name == name; });
  if (it == members_.end()) {
    std::string list;
    for (const auto& n : names()) list += (list.empty() ? "" : ", ") + n;
    throw InputError(path_ + ": has no array '" + name + "' (it holds: " + list + ")");
  }
  const Member& m = *it;
  const std::string where = path_ + " (array '" + name + "')";
  auto broken = [&](const std::string& what) {
    return InputError(where + ": " + what + "; the .npz is truncated or corrupt, save it again with np.savez");
  };
  if (m.flags & 1) throw InputError(where + ": encrypted; save it again with np.savez, without a password");
  if (m.method != 0 && m.method != 8) {
    const std::string method = m.method == 12 ? "bzip2" : m.method == 14 ? "lzma" : "method " + std::to_string(m.method);
    throw InputError(where + ": compressed with " + method +
                     ", which batchtune does not read; save it with np.savez or np.savez_compressed (deflate)");
  }
  if (m.method == 0 && m.compressed_bytes != m.uncompressed_bytes) throw broken("a stored member of two sizes");
  // Deflate expands at most 1032:1; a larger claim is a damaged directory, not data worth allocating for.
  if (m.method == 8 && m.uncompressed_bytes / 1032 > m.compressed_bytes + 64) {
    throw broken("its directory claims " + std::to_string(m.uncompressed_bytes) + " bytes from " +
                 std::to_string(m.compressed_bytes) + " deflated ones, more than deflate can expand");
  }
  require_memory(m.uncompressed_bytes, where, "reading it needs");

  const File file(path_);
  if (m.local_header_offset > file.size() || file.size() - m.local_header_offset < 30) {
    throw broken("its entry lies past the end of the file");
  }
  const std::vector<std::uint8_t> local = file.read_at(m.local_header_offset, 30);
  if (le32(local.data()) != 0x04034b50) throw broken("no zip entry where the directory points");
  const std::uint64_t data_offset = m.local_header_offset + 30 + le16(&local[26]) + le16(&local[28]);
  if (data_offset > file.size() || file.size() - data_offset < m.compressed_bytes) {
    throw broken("its data is cut short (" + std::to_string(m.compressed_bytes) + " bytes expected)");
  }
  std::vector<std::uint8_t> bytes = file.read_at(data_offset, m.compressed_bytes);
  if (m.method == 8) {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(m.uncompressed_bytes));
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw RuntimeFailure("zlib: inflateInit2 failed");
    z.next_in = bytes.data();
    z.next_out = out.data();
    int rc = Z_OK;
    std::size_t in_left = bytes.size(), out_left = out.size();
    // zlib counts in 32 bits: feed gigabyte pieces.
    while (rc == Z_OK) {
      const auto in_piece = static_cast<uInt>(std::min<std::size_t>(in_left, 1u << 30));
      const auto out_piece = static_cast<uInt>(std::min<std::size_t>(out_left, 1u << 30));
      z.avail_in = in_piece;
      z.avail_out = out_piece;
      rc = inflate(&z, Z_NO_FLUSH);
      in_left -= in_piece - z.avail_in;
      out_left -= out_piece - z.avail_out;
      if (rc == Z_OK && z.avail_in == in_piece && z.avail_out == out_piece) rc = Z_BUF_ERROR;  // no progress
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out_left != 0) {
      throw broken(rc == Z_STREAM_END ? "it inflates to fewer bytes than its directory says"
                                      : "its deflate stream is damaged or longer than its directory says");
    }
    bytes = std::move(out);
  }
  if (crc32_z(0L, bytes.data(), bytes.size()) != m.crc32) throw broken("its CRC-32 does not match");
  return parse_npy(std::move(bytes), where);
}

}  // namespace batchtune
