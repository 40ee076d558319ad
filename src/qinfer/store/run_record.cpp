#include "qinfer/store/run_record.h"

#include <dirent.h>

#include <fstream>

#include "qinfer/core/cpu_info.h"

namespace qinfer {

std::string metric::latency(const std::string& what, const std::string& stat) { return what + "_ms_" + stat; }

void RunRecord::add(const std::string& name, double value, const std::string& unit) {
  metrics.push_back({name, value, unit});
}

std::optional<double> RunRecord::find(const std::string& name) const {
  for (const Metric& m : metrics)
    if (m.name == name) return m.value;
  return std::nullopt;
}

bool valid_run_kind(const std::string& kind) { return kind == "bench" || kind == "eval" || kind == "optimize"; }

namespace {
// NVIDIA's driver lists each GPU under /proc/driver/nvidia/gpus/<bus>/information
// with a "Model:" line; no driver means no CUDA GPU qinfer could use.
std::string detect_gpu() {
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
}  // namespace

MachineInfo detect_machine() {
  const CpuInfo cpu = detect_cpu();
  MachineInfo m;
  m.cpu = cpu.model.empty() ? "unknown CPU" : cpu.model;
  m.cores = cpu.logical_cores;
  m.ram_bytes = int64_t(cpu.ram_total_bytes);
  m.gpu = detect_gpu();
  return m;
}

}  // namespace qinfer
