// The perplexity pass `qinfer perplexity` and `qinfer eval` share: llama-
// perplexity's chunks over a text (or over the tokens stored in a baseline
// logits file), its progress line and final estimate on stdout, optionally
// saving the logits as a baseline, and the KL-divergence summary against one.
#pragma once
#include <string>

#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/kld_summary.h"
#include "qinfer/eval/perplexity.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/context.h"

namespace qinfer::cli {

struct PerplexityJob {
  std::string text;                     // text file; empty: the default model's evaluation text
  std::string save_logits;              // write the logits here (llama.cpp's --kl-divergence-base format)
  const KldBaseReader* base = nullptr;  // score against these baseline logits (and their tokens) instead
  int n_chunks = -1;                    // < 0: all
};

struct PerplexityJobResult {
  PerplexityResult result;
  std::string text_path;  // the text that was read (empty with a base)
  KldSummary kld;         // with a base
};

// ctx's n_ctx is the chunk length (a base's n_ctx when comparing).
PerplexityJobResult run_perplexity_job(Context& ctx, const Model& model, const PerplexityJob& job);

}  // namespace qinfer::cli
