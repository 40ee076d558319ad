#include "qinfer/runtime/device.h"

#include <cctype>

#include "qinfer/core/error.h"

namespace qinfer {

namespace {

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 4) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

DeviceRequest parse_device(const std::string& text) {
  DeviceRequest r;
  r.text = text;
  if (text == "auto") return r;
  if (text == "cpu") {
    r.kind = DeviceRequest::Kind::Cpu;
    return r;
  }
  if (text == "cuda" || (text.rfind("cuda:", 0) == 0 && all_digits(text.substr(5)))) {
    r.kind = DeviceRequest::Kind::Cuda;
    r.index = text == "cuda" ? -1 : std::stoi(text.substr(5));
    return r;
  }
  throw InputError("--device " + text + ": expected auto, cpu, cuda or cuda:N");
}

const char* available_backends() { return "cpu"; }

std::string no_gpu_reason(const GpuProbe& probe) {
  std::string found;
  if (!probe.nvidia_gpus.empty()) {
    found = "the NVIDIA driver";
    if (!probe.driver_version.empty()) found += " " + probe.driver_version;
    found += " reports " + gpu_names(probe);
  } else if (probe.driver_loaded) {
    found = "the NVIDIA driver is loaded but reports no GPU";
  } else {
    found = "no NVIDIA driver is loaded (no /proc/driver/nvidia)";
  }
  return "this build of qinfer has no CUDA backend; " + found;
}

DeviceChoice resolve_device(const DeviceRequest& req, const GpuProbe& probe) {
  DeviceChoice c;
  switch (req.kind) {
    case DeviceRequest::Kind::Cpu:
      c.reason = "asked for (--device cpu)";
      return c;
    case DeviceRequest::Kind::Cuda:
      throw InputError("--device " + req.text + ": " + no_gpu_reason(probe) + "; available: " +
                       available_backends() + " (--device cpu or auto)");
    case DeviceRequest::Kind::Auto:
      break;
  }
  c.fallback = true;
  c.reason = "auto: " + no_gpu_reason(probe) + ", so the CPU";
  return c;
}

}  // namespace qinfer
