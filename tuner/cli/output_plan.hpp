// Outputs are checked before any work starts, so that a sweep never ends
// with measurements that cannot be written: two options naming one file (or
// an output naming an input) are refused, and each output is proven
// writable by creating and removing a file beside it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace batchtune {

// For an output option given on the command line: an empty path is refused
// at once (exit 2), before any work, rather than found unwritable at the end.
CLI::Validator non_empty_path();

struct NamedPath {
  std::string option;  // "-o", "--html", "FILE"
  std::string path;    // empty: not given; "-": stdout (never a file)
};

// Throws UsageError for a collision (naming both options), OutputError for a
// path that cannot be written: a folder, a missing or read-only folder, an
// immutable file, something that is not a regular file, a pseudo file system.
void check_outputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs = {});

// Writes `content` to `path` atomically; when that fails (a full disk, a
// folder removed meanwhile), saves it under the temporary folder instead and
// throws OutputError naming both, so measurements are never lost.
void write_report_or_rescue(const std::string& path, const std::string& content);

}  // namespace batchtune
