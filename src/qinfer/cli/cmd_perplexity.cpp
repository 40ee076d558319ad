// qinfer perplexity: llama-perplexity's numbers, and its KL-divergence mode.
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/perplexity_args.h"

namespace qinfer::cli {

namespace {

struct PerplexityCmdArgs {
  ModelArgs model;
  PerplexityArgs ppl;
  KvArgs kv;
};

}  // namespace

void define_perplexity(CLI::App& cmd) {
  auto a = std::make_shared<PerplexityCmdArgs>();
  add_model_args(cmd, a->model);
  add_perplexity_args(cmd, a->ppl);
  add_kv_args(cmd, a->kv, false);
  cmd.callback([a] {
    PerplexityJob job = perplexity_job(a->ppl, a->model.threads, stdout);  // bad combinations fail first
    auto model = load_model_from_args(a->model);
    apply_kv_args(a->kv, job);
    run_perplexity_job(*model, job);
    if (a->kv.given()) std::fprintf(stderr, "%s\n", describe_kv(*model, job.cache_type, job.kv_block).c_str());
  });
}

}  // namespace qinfer::cli
