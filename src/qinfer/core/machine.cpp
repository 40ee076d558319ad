#include "qinfer/core/machine.h"

#include <dirent.h>

#include <fstream>

#include "qinfer/core/cpu_info.h"

namespace qinfer {

std::string detect_gpus() {
  const std::string dir = "/proc/driver/nvidia/gpus";
  DIR* d = opendir(dir.c_str());
  if (!d) return "none";
  std::string out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/information");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Model:", 0) != 0) continue;
      std::string name = line.substr(6);
      name.erase(0, name.find_first_not_of(" \t"));
      if (!out.empty()) out += ", ";
      out += name;
    }
  }
  closedir(d);
  return out.empty() ? "none" : out;
}

MachineInfo detect_machine() {
  const CpuInfo cpu = detect_cpu();
  MachineInfo m;
  m.cpu = cpu.model.empty() ? "unknown CPU" : cpu.model;
  m.cores = cpu.logical_cores;
  m.ram_bytes = int64_t(cpu.ram_total_bytes);
  m.gpu = detect_gpus();
  return m;
}

}  // namespace qinfer
