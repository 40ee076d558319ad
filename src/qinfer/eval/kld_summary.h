// The summary llama-perplexity prints after --kl-divergence, computed from a
// PerplexityResult with the same formulas (examples/perplexity/perplexity.cpp,
// kl_divergence()):
//   mean ± uncertainty of a per-token quantity x over N tokens:
//     m = Σx/N,  u = sqrt((Σx²/N − m²)/(N − 1))  (0 when N ≤ 10)
//   ln PPL = mean nll; PPL = exp(ln PPL) ± PPL·u;
//   cov(ln PPL(Q), ln PPL(base)) = (Σ nll·nll_base/N − m·m_base)/(N − 1)  (0 when N < 10)
//   ln(PPL(Q)/PPL(base)) ± sqrt(u² + u_base² − 2·cov), ratio = exp(·) ± ratio·u_ratio
//   PPL(Q) − PPL(base) ± sqrt(U² + U_base² − 2·PPL·PPL_base·cov)
//   RMS Δp = sqrt(mean Δp²) ± u(Δp²)/(2·RMS)
//   same top p ± sqrt(p(1 − p)/(N − 1))
// Percentiles interpolate linearly between sorted values at fraction·(N − 1).
#pragma once
#include <cstdint>
#include <string>

#include "qinfer/eval/perplexity.h"

namespace qinfer {

struct ValueErr {
  double value = 0, err = 0;
};

struct KldSummary {
  int64_t count = 0;                 // scored tokens
  ValueErr ppl, ppl_base;
  double cor_ln_ppl = 0;             // correlation of ln PPL(Q) and ln PPL(base), 0..1
  ValueErr ln_ppl_ratio, ppl_ratio, ppl_diff;
  // From the base's measured log-probs (measured_nll.h), when the logits file has them:
  // ΔPPL as the difference of two measured perplexities, which optimize and the store use.
  bool has_measured_base = false;
  ValueErr measured_ppl_base, measured_ppl_diff;
  ValueErr kld_mean;
  double kld_max = 0, kld_p999 = 0, kld_p99 = 0, kld_median = 0, kld_p10 = 0, kld_p5 = 0, kld_p1 = 0, kld_min = 0;
  ValueErr p_diff_mean;              // fractions (llama.cpp prints them ×100 %)
  double p_diff_max = 0, p_diff_p999 = 0, p_diff_p99 = 0, p_diff_p95 = 0, p_diff_p90 = 0, p_diff_p75 = 0,
         p_diff_median = 0, p_diff_p25 = 0, p_diff_p10 = 0, p_diff_p5 = 0, p_diff_p1 = 0, p_diff_p01 = 0,
         p_diff_min = 0;
  ValueErr p_diff_rms;
  ValueErr same_top;                 // fraction
};

// `r` must come from perplexity() with a base (r.kld filled); InputError otherwise.
KldSummary summarize_kld(const PerplexityResult& r);

// The three sections llama-perplexity prints, same labels and number formats.
std::string format_kld_summary(const KldSummary& s);

}  // namespace qinfer
