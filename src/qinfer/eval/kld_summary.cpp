#include "qinfer/eval/kld_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/core/stats.h"

namespace qinfer {

namespace {

// llama-perplexity gives no uncertainty for ten values or fewer.
ValueErr mean_and_uncertainty(double sum, double sum2, int64_t n) {
  if (n < 1) return {};
  return {sum / double(n), n > 10 ? standard_error(sum, sum2, n) : 0.0};
}

double covariance(double sa, double sb, double sab, int64_t n) {
  if (n < 10) return 0;
  return (sab / double(n) - (sa / double(n)) * (sb / double(n))) / double(n - 1);
}

struct BaseComparison {
  ValueErr ppl_base, ln_ppl_ratio, ppl_ratio, ppl_diff;
  double cor_ln_ppl = 0;
};

// PPL(base) and PPL(Q) against it, from the base's NLL sums and their cross sum with Q's.
BaseComparison compare_with_base(const ValueErr& log_ppl, double nll, double base_nll, double base_nll2,
                                 double nll_nll_base, int64_t n) {
  BaseComparison c;
  const ValueErr log_base = mean_and_uncertainty(base_nll, base_nll2, n);
  c.ppl_base = {std::exp(log_base.value), std::exp(log_base.value) * log_base.err};
  const double cov = covariance(nll, base_nll, nll_nll_base, n);
  c.cor_ln_ppl = log_ppl.err > 0 && log_base.err > 0 ? cov / (log_ppl.err * log_base.err) : 0;
  const double ratio_unc2 = log_ppl.err * log_ppl.err + log_base.err * log_base.err - 2 * cov;
  c.ln_ppl_ratio = {log_ppl.value - log_base.value, std::sqrt(std::max(0.0, ratio_unc2))};
  c.ppl_ratio = {std::exp(c.ln_ppl_ratio.value), std::exp(c.ln_ppl_ratio.value) * c.ln_ppl_ratio.err};
  const double ppl = std::exp(log_ppl.value), ppl_err = ppl * log_ppl.err;
  const double diff_unc2 =
      ppl_err * ppl_err + c.ppl_base.err * c.ppl_base.err - 2 * ppl * c.ppl_base.value * cov;
  c.ppl_diff = {ppl - c.ppl_base.value, std::sqrt(std::max(0.0, diff_unc2))};
  return c;
}

}  // namespace

KldSummary summarize_kld(const PerplexityResult& r) {
  const KldStats& k = r.kld;
  const int64_t n = int64_t(k.kld.size());
  if (n < 2 || k.p_diff.size() != k.kld.size() || n != r.n_scored)
    throw InputError("KL-divergence summary needs a comparison with a base over at least 2 tokens");
  KldSummary s;
  s.count = n;
  const ValueErr log_ppl = mean_and_uncertainty(r.nll, r.nll2, n);
  s.ppl = {std::exp(log_ppl.value), std::exp(log_ppl.value) * log_ppl.err};
  const BaseComparison file_base = compare_with_base(log_ppl, r.nll, k.base_nll, k.base_nll2, k.nll_nll_base, n);
  s.ppl_base = file_base.ppl_base;
  s.cor_ln_ppl = file_base.cor_ln_ppl;
  s.ln_ppl_ratio = file_base.ln_ppl_ratio;
  s.ppl_ratio = file_base.ppl_ratio;
  s.ppl_diff = file_base.ppl_diff;
  if (k.has_measured_base) {
    const BaseComparison m =
        compare_with_base(log_ppl, r.nll, k.measured_base_nll, k.measured_base_nll2, k.nll_nll_measured_base, n);
    s.has_measured_base = true;
    s.measured_ppl_base = m.ppl_base;
    s.measured_ppl_diff = m.ppl_diff;
  }

  double sk = 0, sk2 = 0, sp = 0, sp2 = 0, sp4 = 0;
  for (double v : k.kld) {
    sk += v;
    sk2 += v * v;
  }
  for (float v : k.p_diff) {
    const double d2 = double(v) * double(v);
    sp += v;
    sp2 += d2;
    sp4 += d2 * d2;
  }
  s.kld_mean = mean_and_uncertainty(sk, sk2, n);
  std::vector<double> kld = k.kld;
  std::sort(kld.begin(), kld.end());
  auto percentile = [](const std::vector<double>& sorted, double fraction) {
    return percentile_of_sorted(sorted, 100 * fraction);  // llama-perplexity's, at fraction·(N − 1)
  };
  s.kld_max = kld.back();
  s.kld_min = kld.front();
  s.kld_p999 = percentile(kld, 0.999);
  s.kld_p99 = percentile(kld, 0.99);
  s.kld_median = percentile(kld, 0.5);  // = mean of the two middle values for even N, as llama.cpp
  s.kld_p10 = percentile(kld, 0.10);
  s.kld_p5 = percentile(kld, 0.05);
  s.kld_p1 = percentile(kld, 0.01);

  s.p_diff_mean = mean_and_uncertainty(sp, sp2, n);
  std::vector<double> pd(k.p_diff.begin(), k.p_diff.end());
  std::sort(pd.begin(), pd.end());
  s.p_diff_max = pd.back();
  s.p_diff_min = pd.front();
  s.p_diff_p999 = percentile(pd, 0.999);
  s.p_diff_p99 = percentile(pd, 0.99);
  s.p_diff_p95 = percentile(pd, 0.95);
  s.p_diff_p90 = percentile(pd, 0.90);
  s.p_diff_p75 = percentile(pd, 0.75);
  s.p_diff_median = percentile(pd, 0.5);
  s.p_diff_p25 = percentile(pd, 0.25);
  s.p_diff_p10 = percentile(pd, 0.10);
  s.p_diff_p5 = percentile(pd, 0.05);
  s.p_diff_p1 = percentile(pd, 0.01);
  s.p_diff_p01 = percentile(pd, 0.001);
  const ValueErr mse = mean_and_uncertainty(sp2, sp4, n);
  const double rms = std::sqrt(mse.value);
  s.p_diff_rms = {rms, rms > 0 ? 0.5 / rms * mse.err : 0};
  const double p = double(k.same_top) / double(n);
  s.same_top = {p, std::sqrt(p * (1 - p) / double(n - 1))};
  return s;
}

std::string format_kld_summary(const KldSummary& s) {
  std::string out;
  char buf[160];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  line("====== Perplexity statistics ======\n");
  line("Mean PPL(Q)                   : %10.6f ± %10.6f\n", s.ppl.value, s.ppl.err);
  line("Mean PPL(base)                : %10.6f ± %10.6f\n", s.ppl_base.value, s.ppl_base.err);
  line("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100.0 * s.cor_ln_ppl);
  line("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", s.ln_ppl_ratio.value, s.ln_ppl_ratio.err);
  line("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", s.ppl_ratio.value, s.ppl_ratio.err);
  line("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", s.ppl_diff.value, s.ppl_diff.err);
  if (s.has_measured_base) {
    // Not llama-perplexity's: the base's own measured perplexity, without the logits file's floor.
    line("Measured PPL(base)            : %10.6f ± %10.6f\n", s.measured_ppl_base.value, s.measured_ppl_base.err);
    line("PPL(Q) - measured PPL(base)   : %10.6f ± %10.6f\n", s.measured_ppl_diff.value, s.measured_ppl_diff.err);
  }
  line("\n====== KL divergence statistics ======\n");
  line("Mean    KLD: %10.6f ± %10.6f\n", s.kld_mean.value, s.kld_mean.err);
  line("Maximum KLD: %10.6f\n", s.kld_max);
  line("99.9%%   KLD: %10.6f\n", s.kld_p999);
  line("99.0%%   KLD: %10.6f\n", s.kld_p99);
  line("Median  KLD: %10.6f\n", s.kld_median);
  line("10.0%%   KLD: %10.6f\n", s.kld_p10);
  line(" 5.0%%   KLD: %10.6f\n", s.kld_p5);
  line(" 1.0%%   KLD: %10.6f\n", s.kld_p1);
  line("Minimum KLD: %10.6f\n", s.kld_min);
  line("\n====== Token probability statistics ======\n");
  line("Mean    Δp: %6.3f ± %5.3f %%\n", 100.0 * s.p_diff_mean.value, 100.0 * s.p_diff_mean.err);
  line("Maximum Δp: %6.3f%%\n", 100.0 * s.p_diff_max);
  line("99.9%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p999);
  line("99.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p99);
  line("95.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p95);
  line("90.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p90);
  line("75.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p75);
  line("Median  Δp: %6.3f%%\n", 100.0 * s.p_diff_median);
  line("25.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p25);
  line("10.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p10);
  line(" 5.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p5);
  line(" 1.0%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p1);
  line(" 0.1%%   Δp: %6.3f%%\n", 100.0 * s.p_diff_p01);
  line("Minimum Δp: %6.3f%%\n", 100.0 * s.p_diff_min);
  line("RMS Δp    : %6.3f ± %5.3f %%\n", 100.0 * s.p_diff_rms.value, 100.0 * s.p_diff_rms.err);
  line("Same top p: %6.3f ± %5.3f %%\n", 100.0 * s.same_top.value, 100.0 * s.same_top.err);
  return out;
}

}  // namespace qinfer
