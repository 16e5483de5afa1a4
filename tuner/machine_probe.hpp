// Reads the machine fingerprint (reports/machine_info.hpp) from the system and
// from LibTorch. Every value is read, never assumed; what cannot be read is
// left empty or zero.
#pragma once

#include "reports/machine_info.hpp"

namespace batchtune {

MachineInfo probe_machine();

}  // namespace batchtune
