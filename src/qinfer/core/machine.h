// The machine a run was measured on, as stored with every run: CPU, cores, RAM
// and GPUs. Detected here, in core, so that every layer that records or shows
// a machine asks the same question the same way.
#pragma once
#include <cstdint>
#include <string>

namespace qinfer {

struct MachineInfo {
  std::string cpu;
  int cores = 0;  // logical
  int64_t ram_bytes = 0;
  std::string gpu = "none";
};

// This machine, as `qinfer devices` sees it.
MachineInfo detect_machine();

// NVIDIA GPUs by model name, comma-separated, from the driver's
// /proc/driver/nvidia/gpus/*/information; "none" without the driver (no CUDA
// GPU qinfer could use).
std::string detect_gpus();

}  // namespace qinfer
