#include "qinfer/runtime/device_report.h"

#include <cstdio>

#include "qinfer/core/cpu_info.h"
#include "qinfer/core/machine.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/runtime/device.h"

namespace qinfer {

namespace {

std::string gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

std::string describe_devices() {
  const CpuInfo cpu = detect_cpu();
  std::string s = "CPU: " + (cpu.model.empty() ? std::string("(unknown)") : cpu.model) + "\n";
  s += "  cores: " + std::to_string(cpu.logical_cores) + " logical, " + std::to_string(cpu.physical_cores) +
       " physical\n";
  s += "  RAM:   " + gib(cpu.ram_total_bytes) + " total, " + gib(cpu.ram_available_bytes) + " available\n";
  s += "  SIMD: ";
  for (const auto& [name, present] : cpu.features) s += std::string(" ") + (present ? "+" : "-") + name;
  s += "\n  kernel paths:";
  for (kernels::Isa isa : kernels::all_isas())
    if (kernels::isa_supported(isa)) s += std::string(" ") + kernels::isa_name(isa);
  const kernels::Isa best = kernels::best_supported_isa();
  const kernels::Isa used = kernels::active_isa();
  s += std::string("\n  kernel path: ") + kernels::isa_name(used) +
       (used == best ? " (best available)" : " (pinned by QINFER_ISA)") + "\n";
  // Only the CPU backend is compiled in; say what the machine has instead.
  s += "GPU: none usable: " + no_gpu_reason(probe_gpus()) + "\n";
  s += std::string("backends in this build: ") + available_backends() + "\n";
  return s;
}

}  // namespace qinfer
