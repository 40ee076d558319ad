// qinfer perplexity: llama-perplexity's numbers, and its KL-divergence mode.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/perplexity_args.h"
#include "qinfer/cli/placement.h"

namespace qinfer::cli {

namespace {

struct PerplexityCmdArgs {
  ModelArgs model;
  PerplexityArgs ppl;
  KvArgs kv;
  PlacementArgs placement;
};

}  // namespace

void define_perplexity(CLI::App& cmd) {
  auto a = std::make_shared<PerplexityCmdArgs>();
  add_model_args(cmd, a->model);
  add_perplexity_args(cmd, a->ppl);
  add_kv_args(cmd, a->kv, false);
  add_placement_args(cmd, a->placement);
  cmd.callback([a] {
    // Bad flags and combinations fail first.
    const DeviceChoice device = choose_device(a->placement);
    PerplexityJob job = perplexity_job(a->ppl, a->model.threads, stdout);
    apply_kv_args(a->kv, job);
    ModelArgs margs = a->model;
    margs.model = model_path_from_args(a->model);
    // Perplexity keeps the logits of a whole chunk.
    check_memory_fits(a->placement, device, margs.model,
                      {job.n_ctx, 1, std::min(job.n_batch, job.n_ctx), job.threads, job.n_ctx, a->kv});
    auto model = load_model_from_args(margs);
    run_perplexity_job(*model, job);
    if (a->kv.given()) std::fprintf(stderr, "%s\n", describe_kv(*model, job.cache_type, job.kv_block).c_str());
  });
}

}  // namespace qinfer::cli
