// qinfer plan: the memory a load will need, from the GGUF header, against the
// memory available; and what would fit when it does not.
#include <cstdio>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/placement.h"
#include "qinfer/plan/memory_plan.h"

namespace qinfer::cli {

namespace {

struct PlanArgs {
  ModelArgs model;
  int n_ctx = 0;
  int n_parallel = 1;
  int n_batch = 512;
  KvArgs kv;
  bool json = false;
  PlacementArgs placement;
};

void plan_cmd(const PlanArgs& a) {
  PlanRequest r;
  r.device = choose_device(a.placement);
  r.model_path = model_path_from_args(a.model);
  r.n_ctx = a.n_ctx;
  r.n_parallel = a.n_parallel;
  r.n_batch = a.n_batch;
  r.n_threads = a.model.threads;
  r.repack = !a.model.no_repack;
  apply_kv_args(a.kv, r);
  r.memory_budget = memory_budget_bytes(a.placement);
  const MemoryPlan p = make_plan(r);
  if (a.json)
    std::printf("%s\n", plan_json(p).c_str());
  else
    std::printf("%s", plan_text(p).c_str());
}

}  // namespace

void define_plan(CLI::App& cmd) {
  auto a = std::make_shared<PlanArgs>();
  add_model_args(cmd, a->model, true);
  cmd.remove_option(cmd.get_option("--tokenizer"));
  cmd.add_option("-c,--ctx,--ctx-size", a->n_ctx, "context length per sequence (default: the model's, at most 4096)")
      ->check(Allowed::ints(1, 1 << 22));
  cmd.add_option("--parallel", a->n_parallel, "sequences held at once")->capture_default_str()->check(Allowed::ints(1, 4096));
  cmd.add_option("-b,--batch-size", a->n_batch, "prompt tokens per forward pass")->capture_default_str()->check(Allowed::ints(1));
  add_kv_args(cmd, a->kv);
  cmd.add_flag("--json", a->json, "print the plan as JSON (predicted_peak_bytes, parts, decision)");
  add_placement_args(cmd, a->placement);
  cmd.remove_option(cmd.get_option("--force"));
  cmd.callback([a] { plan_cmd(*a); });
}

}  // namespace qinfer::cli
