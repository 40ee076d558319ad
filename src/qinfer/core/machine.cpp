#include "qinfer/core/machine.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "qinfer/core/cpu_info.h"

namespace qinfer {

namespace {

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

}  // namespace

GpuProbe probe_gpus(const std::string& proc_root) {
  GpuProbe p;
  const std::string base = proc_root + "/driver/nvidia";
  struct stat st{};
  p.driver_loaded = ::stat(base.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (!p.driver_loaded) return p;
  {
    // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ..."
    std::ifstream in(base + "/version");
    std::string line;
    if (std::getline(in, line)) {
      const std::string key = "Kernel Module";
      const size_t at = line.find(key);
      std::string rest = at == std::string::npos ? line : trim(line.substr(at + key.size()));
      p.driver_version = rest.substr(0, rest.find_first_of(" \t"));
    }
  }
  std::vector<std::string> buses;
  if (DIR* d = opendir((base + "/gpus").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') buses.push_back(e->d_name);
    closedir(d);
  }
  std::sort(buses.begin(), buses.end());  // readdir's order is arbitrary; bus order is stable
  for (const std::string& bus : buses) {
    std::ifstream in(base + "/gpus/" + bus + "/information");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("Model:", 0) == 0) p.nvidia_gpus.push_back(trim(line.substr(6)));
  }
  return p;
}

std::string gpu_names(const GpuProbe& probe) {
  std::string out;
  for (const std::string& g : probe.nvidia_gpus) out += (out.empty() ? "" : ", ") + g;
  return out.empty() ? "none" : out;
}

MachineInfo detect_machine() {
  const CpuInfo cpu = detect_cpu();
  MachineInfo m;
  m.cpu = cpu.model.empty() ? "unknown CPU" : cpu.model;
  m.cores = cpu.logical_cores;
  m.ram_bytes = int64_t(cpu.ram_total_bytes);
  m.gpu = gpu_names(probe_gpus());
  return m;
}

}  // namespace qinfer
