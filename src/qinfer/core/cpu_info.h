// What the machine offers: CPU model, cores, memory, SIMD features.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qinfer {

struct CpuInfo {
  std::string model;
  int logical_cores = 0;
  int physical_cores = 0;
  uint64_t ram_total_bytes = 0;
  uint64_t ram_available_bytes = 0;
  std::vector<std::pair<std::string, bool>> features;  // name → present, in display order
  bool has(const std::string& name) const;
};

CpuInfo detect_cpu();

// The model and physical core count from /proc/cpuinfo's text (logical cores,
// RAM and features are left to detect_cpu). On aarch64 Linux, which has no
// "model name", the model is named from each processor's "CPU implementer" and
// "CPU part": distinct cores in order, "Cortex-X1 + Cortex-A78 + Cortex-A55".
CpuInfo parse_cpuinfo(const std::string& text);

}  // namespace qinfer
