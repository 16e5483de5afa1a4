#include "reports/util/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "reports/util/error.hpp"

namespace batchtune {
namespace {
std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

void check_writable(const std::string& path) {
  if (path.empty() || path.back() == '/') throw OutputError("output path '" + path + "' names a folder, not a file");
  const std::string dir = folder_of(path);
  if (access(dir.c_str(), W_OK) != 0) {
    throw OutputError(path + ": cannot write in " + dir + " (" + std::strerror(errno) + "); choose another -o path");
  }
}

void write_file_atomically(const std::string& path, const std::string& content) {
  check_writable(path);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw OutputError(path + ": writing failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw OutputError(path + ": cannot replace the file (" + why + ")");
  }
}

}  // namespace batchtune
