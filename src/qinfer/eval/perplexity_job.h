// The perplexity pass every command shares (perplexity, eval, optimize):
// llama-perplexity's chunks over a text, or over the tokens stored in a
// baseline logits file; optionally saving the logits as a baseline, and the
// KL-divergence summary against one. With a log, llama-perplexity's progress
// line ("[1]5.1234,[2]...") and final estimate go there.
#pragma once
#include <cstdio>
#include <string>

#include "qinfer/eval/kld_file.h"
#include "qinfer/eval/kld_summary.h"
#include "qinfer/eval/perplexity.h"
#include "qinfer/runtime/context.h"

namespace qinfer {

struct PerplexityJob {
  std::string text;          // text file to tokenize (BOS first); unused when comparing
  std::string save_logits;   // write the logits here (llama.cpp's --kl-divergence-base format)
  std::string compare_with;  // score against these baseline logits (and their tokens) instead of a text
  int n_ctx = 512;           // chunk length; a baseline's own when comparing
  int n_chunks = -1;         // < 0: all
  int n_batch = 2048;        // tokens per forward pass (at most n_ctx)
  int threads = 0;           // resolve_thread_count
  KvCacheType cache_type;    // F16 K and V by default
  int kv_block = 16;         // tokens per KV block
  std::FILE* log = nullptr;  // progress and final lines; nullptr: quiet
};

struct PerplexityJobResult {
  PerplexityResult result;
  KldSummary kld;    // when comparing
  int n_ctx = 0;     // the chunk length used
  int threads = 0;   // as resolved
};

// InputError for a text too short, a baseline of another vocabulary, an
// unreadable file, saving and comparing at once.
PerplexityJobResult run_perplexity_job(const Model& model, const PerplexityJob& job);

}  // namespace qinfer
