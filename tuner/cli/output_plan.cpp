#include "tuner/cli/output_plan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "reports/util/atomic_file.hpp"
#include "reports/util/error.hpp"

namespace batchtune {
namespace {

constexpr long kProcSuperMagic = 0x9fa0;
constexpr long kSysfsMagic = 0x62656572;

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The path with its folder resolved (the file itself may not exist yet).
std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf)) return buf;
  if (realpath(folder_of(path).c_str(), buf)) return std::string(buf) + "/" + base_of(path);
  return path;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  return canonical(a) == canonical(b);
}

void check_one(const NamedPath& o) {
  const std::string& path = o.path;
  const std::string name = o.option + " " + path;
  if (path.back() == '/') throw OutputError(name + ": names a folder; give a file name");
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw OutputError(name + ": is a directory; give a file name inside it");
    if (!S_ISREG(st.st_mode)) throw OutputError(name + ": exists and is not a regular file; choose another path");
    // An immutable or read-only file refuses to be opened for writing (the
    // rename that replaces it would fail only after the work).
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      throw OutputError(name + ": cannot be replaced (" + std::strerror(errno) +
                        "); remove its protection (chattr -i, chmod) or choose another path");
    }
    close(fd);
  }
  const std::string dir = folder_of(path);
  struct stat dst {};
  if (stat(dir.c_str(), &dst) != 0) {
    throw OutputError(name + ": the folder " + dir + " does not exist; create it or choose another path");
  }
  if (!S_ISDIR(dst.st_mode)) throw OutputError(name + ": " + dir + " is not a folder");
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) == 0 && (fs.f_type == kProcSuperMagic || fs.f_type == kSysfsMagic)) {
    throw OutputError(name + ": " + dir + " is a kernel pseudo file system, not storage; choose another path");
  }
  // Prove it: the report is written as a temporary file beside the target.
  const std::string probe = path + ".batchtune-check." + std::to_string(getpid());
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw OutputError(name + ": cannot write in " + dir + " (" + std::strerror(errno) + "); choose another path");
  }
  close(fd);
  unlink(probe.c_str());
}

}  // namespace

CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty()) return "an empty path; give a file name";
        return {};
      },
      "PATH", "non-empty path");
}

void check_outputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  std::vector<NamedPath> files;
  for (const auto& o : outputs) {
    if (!o.path.empty() && o.path != "-") files.push_back(o);
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    for (std::size_t j = i + 1; j < files.size(); ++j) {
      if (same_file(files[i].path, files[j].path)) {
        throw UsageError(files[i].option + " " + files[i].path + " and " + files[j].option + " " + files[j].path +
                         " name the same file; one would overwrite the other; give each its own path");
      }
    }
    for (const auto& in : inputs) {
      if (!in.path.empty() && same_file(files[i].path, in.path)) {
        throw UsageError(files[i].option + " " + files[i].path + " is the input " + in.option +
                         "; writing it would replace what is read; give the output another path");
      }
    }
  }
  for (const auto& o : files) check_one(o);
}

void write_report_or_rescue(const std::string& path, const std::string& content) {
  try {
    write_file_atomically(path, content);
  } catch (const Error& e) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string rescue = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/batchtune-rescued-XXXXXX";
    const int fd = mkstemp(rescue.data());
    bool saved = false;
    if (fd >= 0) {
      saved = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && fsync(fd) == 0;
      close(fd);
      if (!saved) unlink(rescue.c_str());
    }
    throw OutputError(std::string(e.what()) +
                      (saved ? "; the report was saved to " + rescue + " instead" : "; the report could not be saved"));
  }
}

}  // namespace batchtune
