#include "qinfer/core/cpu_info.h"
#include "qinfer/core/arm_cores.h"
#include "qinfer/core/arm_features.h"
#include "qinfer/core/x86_features.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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

CpuInfo parse_cpuinfo(const std::string& text) {
  CpuInfo info;
  std::istringstream f(text);
  std::string line;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string phys;
  std::vector<std::string> arm_cores;  // distinct, in order of appearance
  long implementer = -1;
  while (std::getline(f, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if ((key == "model name" || key == "Model" || key == "Hardware") && info.model.empty()) info.model = val;
    if (key == "physical id") phys = val;
    if (key == "core id") cores.insert({phys, val});
    // Numbers as the kernel prints them ("0x41"); anything else is ignored.
    char* end = nullptr;
    const long num = std::strtol(val.c_str(), &end, 0);
    const bool is_num = !val.empty() && end && *end == '\0' && num >= 0;
    if (key == "CPU implementer") implementer = is_num ? num : -1;
    if (key == "CPU part" && is_num && implementer >= 0) {
      const std::string name = arm_core_name(unsigned(implementer), unsigned(num));
      if (std::find(arm_cores.begin(), arm_cores.end(), name) == arm_cores.end()) arm_cores.push_back(name);
    }
  }
  if (info.model.empty())
    for (const std::string& name : arm_cores) info.model += (info.model.empty() ? "" : " + ") + name;
  info.physical_cores = int(cores.size());
  return info;
}

CpuInfo detect_cpu() {
  std::ifstream f("/proc/cpuinfo");
  std::stringstream text;
  text << f.rdbuf();
  CpuInfo info = parse_cpuinfo(text.str());
  info.logical_cores = int(std::thread::hardware_concurrency());
  if (info.physical_cores == 0) info.physical_cores = info.logical_cores;
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
