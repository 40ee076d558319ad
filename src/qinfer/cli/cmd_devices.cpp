// qinfer devices: what this machine offers and which kernels will run.
#include <cstdio>

#include "qinfer/cli/commands.h"
#include "qinfer/core/cpu_info.h"
#include "qinfer/core/machine.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/runtime/device.h"

namespace qinfer::cli {

void define_devices(CLI::App& cmd) {
  cmd.callback([] {
    const CpuInfo cpu = detect_cpu();
    const double gib = 1024.0 * 1024.0 * 1024.0;
    std::printf("CPU: %s\n", cpu.model.empty() ? "(unknown)" : cpu.model.c_str());
    std::printf("  cores: %d logical, %d physical\n", cpu.logical_cores, cpu.physical_cores);
    std::printf("  RAM:   %.1f GiB total, %.1f GiB available\n", cpu.ram_total_bytes / gib, cpu.ram_available_bytes / gib);
    std::printf("  SIMD: ");
    for (const auto& [name, present] : cpu.features) std::printf(" %s%s", present ? "+" : "-", name.c_str());
    std::printf("\n");
    std::printf("  kernel paths:");
    for (kernels::Isa isa : kernels::all_isas())
      if (kernels::isa_supported(isa)) std::printf(" %s", kernels::isa_name(isa));
    std::printf("\n");
    const kernels::Isa best = kernels::best_supported_isa();
    const kernels::Isa used = kernels::active_isa();
    std::printf("  kernel path: %s%s\n", kernels::isa_name(used),
                used == best ? " (best available)" : " (pinned by QINFER_ISA)");
    // Only the CPU backend is compiled in; say what the machine has instead.
    std::printf("GPU: none usable: %s\n", no_gpu_reason(probe_gpus()).c_str());
    std::printf("backends in this build: %s\n", available_backends());
  });
}

}  // namespace qinfer::cli
