#include "qinfer/eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/stats.h"
#include "qinfer/eval/kld_file.h"
#include "qinfer/runtime/ops.h"
#include "qinfer/runtime/sampler.h"

namespace qinfer {

double PerplexityResult::ppl() const { return n_scored ? std::exp(nll / double(n_scored)) : 0.0; }

// Gaussian propagation of the NLL's standard error through exp, as llama-perplexity.
double PerplexityResult::ppl_error() const { return standard_error(nll, nll2, n_scored) * ppl(); }

double KldStats::mean() const { return qinfer::mean(kld); }

int perplexity_chunks(int64_t n_tokens, int n_ctx, int n_chunks) {
  if (n_tokens < 2 * int64_t(n_ctx))
    throw InputError("the text has " + std::to_string(n_tokens) + " tokens; perplexity with a context of " +
                     std::to_string(n_ctx) + " needs at least " + std::to_string(2 * int64_t(n_ctx)));
  int n_chunk = int(std::min<int64_t>(n_tokens / n_ctx, 1 << 30));
  if (n_chunks >= 0) n_chunk = std::min(n_chunk, n_chunks);
  if (n_chunk < 1) throw InputError("no chunk to evaluate (--chunks " + std::to_string(n_chunks) + ")");
  return n_chunk;
}

PerplexityResult perplexity(Context& ctx, const std::vector<int32_t>& text_tokens, const PerplexityParams& params,
                            const std::function<void(int, int, double)>& on_chunk) {
  const Model& m = ctx.model();
  const int n_vocab = m.config.n_vocab;
  const int n_ctx = params.base ? params.base->n_ctx() : params.n_ctx;
  if (n_ctx < 4) throw InputError("context size " + std::to_string(n_ctx) + " is too small for perplexity");
  if (n_ctx > ctx.n_ctx())
    throw InputError("perplexity context " + std::to_string(n_ctx) + " exceeds the engine context " +
                     std::to_string(ctx.n_ctx()));
  if (params.base && params.base->n_vocab() != n_vocab)
    throw InputError("logits file has n_vocab " + std::to_string(params.base->n_vocab()) + " but the model has " +
                     std::to_string(n_vocab));

  const int32_t* tokens = params.base ? params.base->tokens() : text_tokens.data();
  // A base holds exactly the chunks it was written with (one is enough, as in
  // llama-perplexity's KL-divergence mode); a text follows perplexity_chunks.
  int n_chunk = params.base ? params.base->n_chunk() : perplexity_chunks(int64_t(text_tokens.size()), n_ctx, params.n_chunks);
  if (params.base && params.n_chunks >= 0) n_chunk = std::min(n_chunk, params.n_chunks);
  if (n_chunk < 1) throw InputError("no chunk to evaluate (--chunks " + std::to_string(params.n_chunks) + ")");

  const int bos = m.tokenizer->bos();
  const bool add_bos = m.tokenizer->vocab().add_bos && bos >= 0;
  const int first = n_ctx / 2;
  PerplexityResult res;
  res.n_chunks = n_chunk;
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  std::vector<float> base_lp(params.base ? size_t(n_vocab) : 0);

  for (int i = 0; i < n_chunk; ++i) {
    const int64_t start = int64_t(i) * n_ctx;
    std::copy(tokens + start, tokens + start + n_ctx, chunk.begin());
    if (add_bos) chunk[0] = bos;
    ctx.reset();
    ctx.eval(chunk.data(), n_ctx, true);
    for (int j = first; j < n_ctx - 1; ++j) {
      const float* logits = ctx.logits(j);
      const int32_t target = tokens[start + j + 1];
      const double lp = ops::log_softmax_at(logits, n_vocab, target);
      res.nll -= lp;
      res.nll2 += lp * lp;
      ++res.n_scored;
      if (params.save) params.save->add_row(logits, lp);
      if (params.base) {
        params.base->log_probs(i, j - first, base_lp.data());
        // KL(base || model) over base log-probs above the -16 floor, as llama.cpp.
        float mx = logits[0];
        for (int k = 1; k < n_vocab; ++k) mx = std::max(mx, logits[k]);
        double sum = 0;
        for (int k = 0; k < n_vocab; ++k) sum += std::exp(double(logits[k] - mx));
        const double log_sum = std::log(sum);
        double kl = 0;
        for (int k = 0; k < n_vocab; ++k) {
          if (base_lp[size_t(k)] <= -16.f) continue;
          const double lpb = base_lp[size_t(k)];
          kl += std::exp(lpb) * (lpb - (double(logits[k] - mx) - log_sum));
        }
        KldStats& s = res.kld;
        s.kld.push_back(kl);
        const double lpb_t = base_lp[size_t(target)];
        s.base_nll -= lpb_t;
        s.base_nll2 += lpb_t * lpb_t;
        s.nll_nll_base += lp * lpb_t;
        if (params.base->has_measured_log_probs()) {
          const double lpm = params.base->measured_log_prob(i, j - first);
          s.has_measured_base = true;
          s.measured_base_nll -= lpm;
          s.measured_base_nll2 += lpm * lpm;
          s.nll_nll_measured_base += lp * lpm;
        }
        s.p_diff.push_back(float(std::exp(lp) - std::exp(lpb_t)));
        if (argmax(base_lp.data(), n_vocab) == argmax(logits, n_vocab)) ++s.same_top;
      }
    }
    res.running_ppl.push_back(res.ppl());
    if (on_chunk) on_chunk(i, n_chunk, res.ppl());
  }
  return res;
}

}  // namespace qinfer
