// Writing outputs so that a crash never leaves half a file where a good one
// stood: write a temporary file beside the target, then rename it over.
#pragma once

#include <string>

namespace batchtune {

// Throws OutputError naming the path when its folder cannot be written; call
// it before any long work starts.
void check_writable(const std::string& path);

// Writes `content` to `path` atomically (temporary file + rename).
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace batchtune
