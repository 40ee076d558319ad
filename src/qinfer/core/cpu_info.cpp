#include "qinfer/core/cpu_info.h"
#include "qinfer/core/arm_features.h"
#include "qinfer/core/x86_features.h"

#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace qinfer {

bool CpuInfo::has(const std::string& name) const {
  for (const auto& [n, v] : features)
    if (n == name) return v;
  return false;
}

namespace {

uint64_t meminfo_kb(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream is(line.substr(key.size() + 1));
      uint64_t kb = 0;
      is >> kb;
      return kb;
    }
  return 0;
}

}  // namespace

CpuInfo detect_cpu() {
  CpuInfo info;
  info.logical_cores = int(std::thread::hardware_concurrency());
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string phys;
  while (std::getline(f, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if ((key == "model name" || key == "Model" || key == "Hardware") && info.model.empty()) info.model = val;
    if (key == "physical id") phys = val;
    if (key == "core id") cores.insert({phys, val});
  }
  info.physical_cores = cores.empty() ? info.logical_cores : int(cores.size());
  info.ram_total_bytes = meminfo_kb("MemTotal") * 1024;
  info.ram_available_bytes = meminfo_kb("MemAvailable") * 1024;
#if defined(__x86_64__)
  const X86Features& x = x86_features();
  info.features = {
      {"SSE4.2", x.sse42},         {"AVX", x.avx},           {"AVX2", x.avx2},
      {"FMA", x.fma},              {"F16C", x.f16c},         {"AVX-512F", x.avx512f},
      {"AVX-512BW", x.avx512bw},   {"AVX-512VL", x.avx512vl}, {"AVX-512 VNNI", x.avx512vnni},
      {"AVX-512 BF16", x.avx512bf16}, {"AVX-VNNI", x.avxvnni},
  };
#elif defined(__aarch64__)
  const ArmFeatures& a = arm_features();
  info.features = {{"NEON", a.asimd},       {"FP16", a.fphp && a.asimdhp}, {"DOTPROD", a.dotprod},
                   {"I8MM", a.i8mm},        {"SVE", a.sve}};
  if (info.model.empty()) info.model = "ARMv8 (aarch64)";
#endif
  return info;
}

}  // namespace qinfer
