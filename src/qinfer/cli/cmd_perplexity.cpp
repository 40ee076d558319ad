// qinfer perplexity: llama-perplexity's numbers, and its KL-divergence mode.
#include <algorithm>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/perplexity_job.h"
#include "qinfer/core/error.h"

namespace qinfer::cli {

namespace {

struct PerplexityArgs {
  ModelArgs model;
  std::string file;
  int n_ctx = 512;
  int n_chunks = -1;
  int n_batch = 2048;
  std::string kld_base;
  bool kl_divergence = false;
};

void perplexity_cmd(const PerplexityArgs& a) {
  if (a.kl_divergence && a.kld_base.empty()) throw InputError("--kl-divergence needs --kl-divergence-base FILE");
  auto model = load_model_from_args(a.model);
  std::unique_ptr<KldBaseReader> base;
  if (a.kl_divergence) base = std::make_unique<KldBaseReader>(a.kld_base);
  const int n_ctx = base ? base->n_ctx() : a.n_ctx;
  ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_batch = std::min(a.n_batch, n_ctx);
  cp.n_threads = a.model.threads;
  Context ctx(*model, cp);
  PerplexityJob job;
  job.text = a.file;
  job.save_logits = a.kl_divergence ? "" : a.kld_base;  // a plain run with the file writes it, as llama-perplexity
  job.base = base.get();
  job.n_chunks = a.n_chunks;
  run_perplexity_job(ctx, *model, job);
}

}  // namespace

void define_perplexity(CLI::App& cmd) {
  auto a = std::make_shared<PerplexityArgs>();
  add_model_args(cmd, a->model);
  cmd.add_option("-f,--file", a->file, "text file (default: the default model's evaluation text)");
  cmd.add_option("-c,--ctx-size", a->n_ctx, "tokens per chunk")->capture_default_str()->check(Allowed::ints(8, 1 << 20));
  cmd.add_option("--chunks", a->n_chunks, "evaluate at most this many chunks (default: all)")
      ->check(Allowed::ints(1).or_value(-1, "all"));
  cmd.add_option("-b,--batch-size", a->n_batch, "tokens per forward pass")->check(Allowed::ints(1));
  cmd.add_option("--kl-divergence-base", a->kld_base,
                 "llama.cpp logits file: written by a plain run, read with --kl-divergence");
  cmd.add_flag("--kl-divergence", a->kl_divergence, "compare with the --kl-divergence-base file");
  cmd.callback([a] { perplexity_cmd(*a); });
}

}  // namespace qinfer::cli
