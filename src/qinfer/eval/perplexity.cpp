#include "qinfer/eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/eval/kld_file.h"
#include "qinfer/runtime/ops.h"
#include "qinfer/runtime/sampler.h"

namespace qinfer {

double PerplexityResult::ppl() const { return n_scored ? std::exp(nll / double(n_scored)) : 0.0; }

double PerplexityResult::ppl_error() const {
  if (n_scored < 2) return 0.0;
  const double mean = nll / double(n_scored);
  const double var = nll2 / double(n_scored) - mean * mean;
  return var > 0 ? std::sqrt(var / double(n_scored - 1)) * ppl() : 0.0;
}

double KldStats::mean() const {
  if (kld.empty()) return 0;
  double s = 0;
  for (double v : kld) s += v;
  return s / double(kld.size());
}

double KldStats::stderr_mean() const {
  if (kld.size() < 2) return 0;
  const double m = mean();
  double s2 = 0;
  for (double v : kld) s2 += v * v;
  const double var = s2 / double(kld.size()) - m * m;
  return var > 0 ? std::sqrt(var / double(kld.size() - 1)) : 0;
}

double KldStats::percentile(double p) const {
  if (kld.empty()) return 0;
  std::vector<double> v = kld;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
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
  const int64_t n_tokens = params.base ? int64_t(params.base->n_ctx()) * params.base->n_chunk() : int64_t(text_tokens.size());
  int n_chunk = int(n_tokens / n_ctx);
  if (params.n_chunks >= 0) n_chunk = std::min(n_chunk, params.n_chunks);
  if (n_chunk < 1 || n_tokens < 2 * n_ctx)
    throw InputError("the text has " + std::to_string(n_tokens) + " tokens; perplexity with a context of " +
                     std::to_string(n_ctx) + " needs at least " + std::to_string(2 * n_ctx));

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
      if (params.save) params.save->add_row(logits);
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
