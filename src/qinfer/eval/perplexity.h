// Perplexity exactly as llama.cpp's llama-perplexity computes it:
// non-overlapping chunks of n_ctx tokens, each evaluated from an empty cache
// with its first token replaced by BOS, scoring only the second half.
// Optionally writes or compares against a --kl-divergence-base file.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qinfer/runtime/context.h"

namespace qinfer {

class KldBaseReader;
class KldBaseWriter;

struct PerplexityParams {
  int n_ctx = 512;
  int n_chunks = -1;                // < 0: every whole chunk of the text
  KldBaseWriter* save = nullptr;    // store the logits as a KL-divergence base
  const KldBaseReader* base = nullptr;  // compare with a base (tokens come from it)
};

struct KldStats {
  std::vector<double> kld;          // per scored token
  std::vector<float> p_diff;        // p(correct) candidate - base
  int64_t same_top = 0;
  double base_nll = 0, base_nll2 = 0;
  double nll_nll_base = 0;            // sum of nll(Q)·nll(base): their covariance (kld_summary.h)
  // The same three sums over the baseline's measured log-probs, when its
  // logits file has them (measured_nll.h): nll(base) without the file's floor.
  bool has_measured_base = false;
  double measured_base_nll = 0, measured_base_nll2 = 0, nll_nll_measured_base = 0;
  double mean() const;  // the rest of the summary: summarize_kld (kld_summary.h)
  double same_top_fraction() const { return kld.empty() ? 0 : double(same_top) / double(kld.size()); }
};

struct PerplexityResult {
  int n_chunks = 0;
  int64_t n_scored = 0;
  double nll = 0, nll2 = 0;           // sums over scored tokens
  std::vector<double> running_ppl;    // after each chunk, as llama-perplexity prints [i]
  KldStats kld;                       // filled when comparing with a base
  double ppl() const;
  double ppl_error() const;           // llama.cpp's ± (Gaussian propagation)
};

// Chunks a pass over n_tokens of text scores: every whole chunk, at most
// n_chunks (< 0: no limit). As llama-perplexity, the text must hold at least
// two chunks' worth of tokens even when fewer are asked for; InputError otherwise.
int perplexity_chunks(int64_t n_tokens, int n_ctx, int n_chunks);

// `tokens` is the whole tokenized text (BOS first when the vocab adds one);
// ignored when params.base is given. on_chunk(i, n_chunks, running_ppl) may print progress.
PerplexityResult perplexity(Context& ctx, const std::vector<int32_t>& tokens, const PerplexityParams& params,
                            const std::function<void(int, int, double)>& on_chunk = {});

}  // namespace qinfer
