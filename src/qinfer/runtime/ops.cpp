#include "qinfer/runtime/ops.h"

#include <algorithm>
#include <cmath>

namespace qinfer::ops {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(x[i] * x[i]);
  const float mean = float(sum / double(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void swiglu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = (x[i] == -INFINITY) ? 0.0f : std::exp(x[i] - mx);
    x[i] = e;
    sum += double(e);
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

double log_softmax_at(const float* logits, int64_t n, int64_t idx) {
  float mx = logits[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i] - mx));
  return double(logits[idx] - mx) - std::log(sum);
}

namespace {

float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return float(n_dims) * std::log(float(n_ctx_orig) / (n_rot * 2.0f * float(M_PI))) / (2.0f * std::log(base));
}

float yarn_ramp(float low, float high, int i0) {
  const float y = (float(i0 / 2) - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

// Llama-3.1 rope scaling as a per-pair frequency divisor (what the converters
// store in rope_freqs.weight), for files that only give the parameters.
float llama3_factor(const RopeParams& p, float freq) {
  const float old_ctx = float(p.n_ctx_orig > 0 ? p.n_ctx_orig : 8192);
  const float low_wavelen = old_ctx / p.llama3_low_freq_factor;
  const float high_wavelen = old_ctx / p.llama3_high_freq_factor;
  const float wavelen = 2.0f * float(M_PI) / freq;
  if (wavelen < high_wavelen) return 1.0f;
  if (wavelen > low_wavelen) return p.scaling_factor;
  const float smooth = (old_ctx / wavelen - p.llama3_low_freq_factor) /
                       (p.llama3_high_freq_factor - p.llama3_low_freq_factor);
  return 1.0f / ((1.0f - smooth) / p.scaling_factor + smooth);
}

}  // namespace

void RopeCache::init(const RopeParams& p, int n_ctx, const float* freq_factors) {
  p_ = p;
  n_pairs_ = p.n_rot / 2;
  cos_.assign(table_size(p, n_ctx), 0.0f);
  sin_.assign(table_size(p, n_ctx), 0.0f);
  const float theta_scale = std::pow(p.freq_base, -2.0f / float(p.n_rot));
  float corr_lo = 0, corr_hi = 0;
  if (p.yarn_ext_factor != 0.0f) {
    corr_lo = std::max(0.0f, std::floor(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.yarn_beta_fast, p.freq_base)));
    corr_hi = std::min(float(p.n_rot - 1), std::ceil(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.yarn_beta_slow, p.freq_base)));
  }
  for (int pos = 0; pos < n_ctx; ++pos) {
    // theta accumulates by repeated multiplication in float, as ggml's rope cache does.
    float theta = float(pos);
    float freq = 1.0f;
    for (int k = 0; k < n_pairs_; ++k) {
      const int i0 = 2 * k;
      float ff = 1.0f;
      if (freq_factors) ff = freq_factors[k];
      else if (p.scaling == RopeScaling::Llama3) ff = llama3_factor(p, freq);
      const float theta_extrap = theta / ff;
      float theta_interp = p.freq_scale * theta_extrap;
      float t = theta_interp;
      float mscale = p.yarn_attn_factor;
      if (p.yarn_ext_factor != 0.0f) {
        const float mix = yarn_ramp(corr_lo, corr_hi, i0) * p.yarn_ext_factor;
        t = theta_interp * (1 - mix) + theta_extrap * mix;
        mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
      }
      cos_[size_t(pos) * n_pairs_ + k] = std::cos(t) * mscale;
      sin_[size_t(pos) * n_pairs_ + k] = std::sin(t) * mscale;
      theta *= theta_scale;
      freq *= theta_scale;
    }
  }
}

void RopeCache::apply(float* x, int pos) const {
  const float* c = &cos_[size_t(pos) * n_pairs_];
  const float* s = &sin_[size_t(pos) * n_pairs_];
  if (p_.layout == RopeLayout::Norm) {
    for (int k = 0; k < n_pairs_; ++k) {
      const float x0 = x[2 * k], x1 = x[2 * k + 1];
      x[2 * k] = x0 * c[k] - x1 * s[k];
      x[2 * k + 1] = x0 * s[k] + x1 * c[k];
    }
  } else {
    for (int k = 0; k < n_pairs_; ++k) {
      const float x0 = x[k], x1 = x[k + n_pairs_];
      x[k] = x0 * c[k] - x1 * s[k];
      x[k + n_pairs_] = x0 * s[k] + x1 * c[k];
    }
  }
}

}  // namespace qinfer::ops
