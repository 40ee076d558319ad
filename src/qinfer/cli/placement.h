// Where a command's engine runs and whether the load fits: --device (every
// command that runs the engine) resolved through runtime/device and recorded
// with each run; --memory-budget and --force for the memory plan's check,
// which refuses a load the plan says will not fit before anything is loaded.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "qinfer/cli/kv_args.h"
#include "qinfer/plan/memory_plan.h"
#include "qinfer/runtime/device.h"
#include "qinfer/store/run_record.h"

namespace qinfer::cli {

struct PlacementArgs {
  std::string device = "auto";
  std::string memory_budget;          // bytes with an optional unit; "" = available RAM
  bool force = false;                 // load even when the plan says it will not fit
  CLI::Option* device_opt = nullptr;  // set by add_placement_args: was --device given?
};

// --device auto|cpu|cuda|cuda:N; with `fit_check`, also --memory-budget and --force.
void add_placement_args(CLI::App& cmd, PlacementArgs& args, bool fit_check = true);

// Parses and resolves --device (InputError for one this build or machine
// cannot use). When auto falls back and there is something to say (a GPU was
// found, or auto was asked for by name), one line on stderr says so.
DeviceChoice choose_device(const PlacementArgs& args);

// The choice and its reason into a run about to be stored.
void record_device(RunRecord& run, const DeviceChoice& device);

// What a command is about to load, for the memory plan.
struct LoadShape {
  int n_ctx = 0;        // 0: the model's default
  int n_parallel = 1;   // contexts held at once
  int n_batch = 512;
  int n_threads = 0;
  int logits_rows = 1;  // perplexity: the chunk length
  KvArgs kv;            // cache types, block size, pool budget (n_parallel > 1: the engine's)
};

// --memory-budget in bytes; -1 when not given (the plan then compares with available RAM).
int64_t memory_budget_bytes(const PlacementArgs& args);

// The plan of a load as a command makes it (--memory-budget applied), or
// nothing for a model that is not a GGUF file (other formats are not planned).
std::optional<MemoryPlan> plan_load(const PlacementArgs& args, const DeviceChoice& device,
                                    const std::string& model_path, const LoadShape& shape);

// Refuses (InputError with the plan's one-line summary) a GGUF load the memory
// plan says will not fit, unless --force.
void check_memory_fits(const PlacementArgs& args, const DeviceChoice& device, const std::string& model_path,
                       const LoadShape& shape);

}  // namespace qinfer::cli
