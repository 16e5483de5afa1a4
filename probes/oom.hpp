// Is this exception an out-of-memory? Recognised by type first
// (c10::OutOfMemoryError), then by the allocators' messages, because the
// TorchScript interpreter and some kernels rethrow an allocator failure as a
// plain c10::Error or std::runtime_error that only carries its text.
#pragma once

#include <exception>
#include <string>

namespace batchtune::probes {

bool is_out_of_memory(const std::exception& e);
bool is_out_of_memory_message(const std::string& message);

}  // namespace batchtune::probes
