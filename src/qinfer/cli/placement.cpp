#include "qinfer/cli/placement.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/plan/memory_plan.h"

namespace qinfer::cli {

namespace {

bool is_gguf(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

}  // namespace

void add_placement_args(CLI::App& cmd, PlacementArgs& args, bool fit_check) {
  args.device_opt = cmd.add_option("--device", args.device,
                                   "where the engine runs: auto (a GPU backend if present, else the CPU), cpu, "
                                   "cuda, cuda:N")
                        ->capture_default_str();
  if (!fit_check) return;
  cmd.add_option("--memory-budget", args.memory_budget,
                 "memory the load may use (e.g. 8G, 512M; default: available RAM); see `qinfer plan`");
  cmd.add_flag("--force", args.force, "load even when the memory plan says it will not fit");
}

DeviceChoice choose_device(const PlacementArgs& args) {
  const GpuProbe probe = probe_gpus();
  const DeviceChoice c = resolve_device(parse_device(args.device), probe);
  const bool asked = args.device_opt && args.device_opt->count() > 0;
  if (c.fallback && (asked || !probe.nvidia_gpus.empty()))
    std::fprintf(stderr, "qinfer: --device auto: %s\n", c.reason.substr(c.reason.find(": ") + 2).c_str());
  return c;
}

void record_device(RunRecord& run, const DeviceChoice& device) {
  run.device = device.name;
  run.device_reason = device.reason;
}

int64_t memory_budget_bytes(const PlacementArgs& args) {
  if (args.memory_budget.empty()) return -1;
  const uint64_t bytes = parse_byte_size(args.memory_budget, "--memory-budget");
  return int64_t(std::min<uint64_t>(bytes, uint64_t(INT64_MAX)));
}

std::optional<MemoryPlan> plan_load(const PlacementArgs& args, const DeviceChoice& device,
                                    const std::string& model_path, const LoadShape& shape) {
  PlanRequest r;
  r.model_path = model_path;
  r.n_ctx = shape.n_ctx;
  r.n_parallel = shape.n_parallel;
  r.n_batch = shape.n_batch;
  r.n_threads = shape.n_threads;
  r.logits_rows = shape.logits_rows;
  apply_kv_args(shape.kv, r);
  r.device = device;
  r.memory_budget = memory_budget_bytes(args);
  if (!is_gguf(model_path)) return std::nullopt;
  return make_plan(r);
}

void check_memory_fits(const PlacementArgs& args, const DeviceChoice& device, const std::string& model_path,
                       const LoadShape& shape) {
  memory_budget_bytes(args);  // a bad --memory-budget is an error even with --force
  if (args.force) return;
  const std::optional<MemoryPlan> p = plan_load(args, device, model_path, shape);
  if (p && !p->fits)
    throw InputError(model_path + " " + plan_summary(*p) + " (qinfer plan shows the arithmetic; --force loads anyway)");
}

}  // namespace qinfer::cli
