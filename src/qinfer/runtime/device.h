// --device: one parser and one resolver for every command that runs the
// engine (run, bench, eval, perplexity, optimize, serve). `auto` prefers a GPU
// backend, then the CPU; a device named explicitly that this build or machine
// cannot use is an InputError saying what was found instead. This build has
// only the CPU backend (CUDA code ships only once it has run on a GPU).
#pragma once
#include <string>

#include "qinfer/core/machine.h"

namespace qinfer {

struct DeviceRequest {
  enum class Kind { Auto, Cpu, Cuda };
  Kind kind = Kind::Auto;
  int index = -1;     // cuda:N; -1 = the first
  std::string text;   // as the user wrote it
};

// "auto", "cpu", "cuda", "cuda:N"; anything else is an InputError naming the flag.
DeviceRequest parse_device(const std::string& text);

struct DeviceChoice {
  std::string name = "cpu";  // the backend the engine runs on: "cpu" (later "cuda:0")
  std::string reason;        // one line, recorded with the run: why this device
  bool fallback = false;     // auto wanted something better than what it got
};

// Throws InputError for a device this build or machine cannot use.
DeviceChoice resolve_device(const DeviceRequest& req, const GpuProbe& probe);

// The backends compiled into this build ("cpu").
const char* available_backends();

// Why no GPU is listed / usable, in one sentence naming what was found.
std::string no_gpu_reason(const GpuProbe& probe);

}  // namespace qinfer
