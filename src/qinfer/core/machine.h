// The machine a run was measured on, as stored with every run: CPU, cores, RAM
// and GPUs. Detected here, in core, so that every layer that records or shows
// a machine asks the same question the same way.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qinfer {

struct MachineInfo {
  std::string cpu;
  int cores = 0;  // logical
  int64_t ram_bytes = 0;
  std::string gpu = "none";
};

// This machine, as `qinfer devices` sees it.
MachineInfo detect_machine();

// What the machine says about GPUs, without any GPU library: NVIDIA's kernel
// driver lists each GPU under /proc/driver/nvidia/gpus/<bus>/information.
// Used to say truthfully why no GPU is used (this build has no CUDA backend).
struct GpuProbe {
  std::vector<std::string> nvidia_gpus;  // model names reported by the driver, in bus order
  std::string driver_version;            // from /proc/driver/nvidia/version, "" without a driver
  bool driver_loaded = false;            // /proc/driver/nvidia exists
};

// Reads `proc_root`/driver/nvidia (proc_root is "/proc" except in tests).
GpuProbe probe_gpus(const std::string& proc_root = "/proc");

// "NVIDIA A100-SXM4-40GB, Tesla T4" or "none".
std::string gpu_names(const GpuProbe& probe);

}  // namespace qinfer
