// Elementwise and normalisation ops of the forward pass, on float rows.
// Each follows ggml's CPU arithmetic (accumulation types, formulas) so that
// results agree with llama.cpp to float rounding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/model/config.h"

namespace qinfer::ops {

// y = x / sqrt(mean(x^2) + eps) * w   (sum of squares in double, like ggml)
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// x = silu(gate) * up, in place into gate.
void swiglu(float* gate, const float* up, int64_t n);

// In-place softmax over n values; returns nothing. Sum accumulated in double.
void softmax(float* x, int64_t n);

// log-softmax value of one entry: logit[idx] - max - log(sum exp(logit - max)).
double log_softmax_at(const float* logits, int64_t n, int64_t idx);

// Precomputed cos/sin for every position and rotated pair.
class RopeCache {
 public:
  RopeCache() = default;
  // freq_factors: optional per-pair divisors (rope_freqs.weight), n_rot/2 long.
  void init(const RopeParams& p, int n_ctx, const float* freq_factors);
  // Rotates one head vector (head_dim long, first n_rot dims rotated) at `pos`.
  void apply(float* x, int pos) const;
  // Bytes a cache for n_ctx positions holds (cos and sin): what init allocates.
  static size_t bytes_for(const RopeParams& p, int n_ctx) { return 2 * table_size(p, n_ctx) * sizeof(float); }
  size_t bytes() const { return (cos_.capacity() + sin_.capacity()) * sizeof(float); }

 private:
  static size_t table_size(const RopeParams& p, int n_ctx) { return size_t(n_ctx) * size_t(p.n_rot / 2); }

  RopeParams p_;
  int n_pairs_ = 0;
  std::vector<float> cos_, sin_;  // [pos][pair]
};

}  // namespace qinfer::ops
