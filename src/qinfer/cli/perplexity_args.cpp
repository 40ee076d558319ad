#include "qinfer/cli/perplexity_args.h"

#include "qinfer/cli/flags.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/core/error.h"

namespace qinfer::cli {

void add_perplexity_args(CLI::App& cmd, PerplexityArgs& a) {
  cmd.add_option("-f,--file", a.file, "text file (default: the default model's evaluation text)");
  cmd.add_option("-c,--ctx-size", a.n_ctx, "tokens per chunk")->capture_default_str()->check(Allowed::ints(8, 1 << 20));
  cmd.add_option("--chunks", a.n_chunks, "evaluate at most this many chunks (default: all)")
      ->check(Allowed::ints(1).or_value(-1, "all"));
  cmd.add_option("-b,--batch-size", a.n_batch, "tokens per forward pass")->check(Allowed::ints(1));
  cmd.add_option("--kl-divergence-base", a.kld_base,
                 "llama.cpp logits file: written by a plain run, compared with by --kl-divergence");
  a.kld_flag = cmd.add_option("--kl-divergence", a.kld_file,
                              "compare with baseline logits: the --kl-divergence-base file, or the file given here")
                   ->expected(0, 1);
  cmd.add_option("--save-logits", a.save_logits, "write the logits as a baseline (= --kl-divergence-base F alone)");
}

PerplexityJob perplexity_job(const PerplexityArgs& a, int threads, std::FILE* log) {
  PerplexityJob job;
  if (a.comparing()) {
    if (!a.kld_file.empty() && !a.kld_base.empty() && a.kld_file != a.kld_base)
      throw InputError("--kl-divergence " + a.kld_file + " and --kl-divergence-base " + a.kld_base +
                       " name two different files");
    job.compare_with = a.kld_file.empty() ? a.kld_base : a.kld_file;
    if (job.compare_with.empty())
      throw InputError("--kl-divergence needs a baseline logits file: --kl-divergence FILE or --kl-divergence-base FILE");
    if (!a.save_logits.empty())
      throw InputError("--save-logits and --kl-divergence exclude each other: save the baseline's logits first");
  } else {
    if (!a.save_logits.empty() && !a.kld_base.empty() && a.save_logits != a.kld_base)
      throw InputError("--save-logits " + a.save_logits + " and --kl-divergence-base " + a.kld_base +
                       " name two different files");
    job.save_logits = a.save_logits.empty() ? a.kld_base : a.save_logits;
    job.text = text_path_or_default(a.file, "-f");
    if (job.text.empty()) throw InputError("no text given: pass -f FILE");
  }
  job.n_ctx = a.n_ctx;
  job.n_chunks = a.n_chunks;
  job.n_batch = a.n_batch;
  job.threads = threads;
  job.log = log;
  return job;
}

}  // namespace qinfer::cli
