// Names of ARM CPU cores from the "CPU implementer" and "CPU part" fields of
// Linux's /proc/cpuinfo on aarch64, which has no "model name" line there.
#pragma once
#include <string>

namespace qinfer {

// "Neoverse-N1", "Cortex-A76", ...; for a pair not in the table, the vendor
// (when known) and the raw numbers: "ARM part 0xd99", "implementer 0x12 part 0x345".
std::string arm_core_name(unsigned implementer, unsigned part);

}  // namespace qinfer
