// Reads the machine fingerprint (reports/model/machine_info.hpp) from the system and
// from LibTorch. Every value is read, never assumed; what cannot be read is
// left empty or zero.
#pragma once

#include <cstdint>
#include <string>

#include "reports/model/machine_info.hpp"

namespace batchtune {

MachineInfo probe_machine();

// The logical CPUs this process may run on (its affinity mask; the online
// CPUs where that cannot be read).
int usable_core_count();

// The memory this process may really use: the kernel's MemAvailable, within
// the cgroup's limit less its current usage when one applies. `source` (may
// be null) gets how it was found, in words, for the report.
std::uint64_t usable_memory_bytes(std::string* source = nullptr);

}  // namespace batchtune
