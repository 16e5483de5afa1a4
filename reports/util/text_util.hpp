// Error messages from LibTorch and the system carry context and backtraces on
// later lines; batchtune's errors are one line.
#pragma once

#include <string>

namespace batchtune {

inline std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

}  // namespace batchtune
