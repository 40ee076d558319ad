// The options `qinfer perplexity` and `qinfer eval` share, with
// llama-perplexity's meanings in both:
//   -f FILE -c N --chunks K -b N         text, chunk length, chunks, batch
//   --kl-divergence-base F               a plain run writes the baseline logits to F
//   --kl-divergence-base F --kl-divergence   compares with the logits in F
//   --kl-divergence F                    the same comparison, shorter
//   --save-logits F                      writes the baseline logits to F
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "qinfer/eval/perplexity_job.h"

namespace qinfer::cli {

struct PerplexityArgs {
  std::string file;
  int n_ctx = 512;
  int n_chunks = -1;
  int n_batch = 2048;
  std::string kld_base;
  std::string kld_file;  // --kl-divergence's optional value
  std::string save_logits;
  const CLI::Option* kld_flag = nullptr;  // --kl-divergence, given or not

  bool comparing() const { return kld_flag && kld_flag->count() > 0; }
  bool saving() const { return !save_logits.empty() || (!kld_base.empty() && !comparing()); }
  // Something asks for perplexity (eval also runs other tasks).
  bool asked() const { return !file.empty() || saving() || comparing(); }
};

void add_perplexity_args(CLI::App& cmd, PerplexityArgs& args);

// The job the options describe; -f defaults to the default model's evaluation
// text. InputError for contradictory options.
PerplexityJob perplexity_job(const PerplexityArgs& args, int threads, std::FILE* log);

}  // namespace qinfer::cli
