#include "qinfer/quant/iq4_nl.h"

#include <cmath>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/kquant_search.h"

// Rounded operation by operation like ggml-base (no FMA): see kquant_search.cpp.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

namespace {

// Index of the codebook value nearest to v (ties toward the lower index, as
// ggml's best_index_int8 bisection resolves them).
int best_index(float v) {
  const int8_t* val = kIQ4NLValues;
  if (v <= float(val[0])) return 0;
  if (v >= float(val[15])) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (v < float(val[mav]))
      mu = mav;
    else
      ml = mav;
  }
  return v - float(val[mu - 1]) < float(val[mu]) - v ? mu - 1 : mu;
}

// ggml's quantize_row_iq4_nl_impl for one 32-element block (super block = block)
// with ntry = 7: the scale maximizing (Σw·q·x)² / Σw·q² over 15 trial scales,
// then the codes recomputed against the chosen scale.
void quantize_block(const float* x, BlockIQ4_NL* y, const float* qw) {
  constexpr int ntry = 7;
  const int8_t* values = kIQ4NLValues;
  float weight[kQK4_NL];
  uint8_t L[kQK4_NL];
  float sigma2 = 0;
  for (int j = 0; j < kQK4_NL; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / kQK4_NL;

  if (qw)
    for (int j = 0; j < kQK4_NL; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
  else
    for (int j = 0; j < kQK4_NL; ++j) weight[j] = x[j] * x[j];
  float amax = 0, max = 0;
  for (int j = 0; j < kQK4_NL; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  float scale = 0;
  if (amax >= quant_detail::kGroupMaxEps) {
    float d = -max / float(values[0]);
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kQK4_NL; ++j) {
      const float q = values[best_index(id * x[j])];
      const float w = weight[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = float(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < kQK4_NL; ++j) {
        const float q = values[best_index(id * x[j])];
        const float w = weight[j];
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scale = d;
  }
  // One block per super block: the scale is stored as is (float, then fp16) and
  // the codes are recomputed against the unrounded scale, as ggml does.
  y->d = f32_to_fp16(scale);
  const float id = scale != 0 ? 1 / scale : 0;
  for (int j = 0; j < kQK4_NL; ++j) L[j] = uint8_t(best_index(id * x[j]));
  for (int j = 0; j < 16; ++j) y->qs[j] = uint8_t(L[j] | (L[16 + j] << 4));
}

}  // namespace

size_t quantize_iq4_nl(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  quant_detail::check_quantize_input("iq4_nl", kQK4_NL, src, nrows, n_per_row, imatrix);
  const int64_t nblock = n_per_row / kQK4_NL;
  auto* y = static_cast<BlockIQ4_NL*>(dst);
  for (int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nblock)
    for (int64_t ib = 0; ib < nblock; ++ib)
      quantize_block(src + kQK4_NL * ib, y + ib, imatrix ? imatrix + kQK4_NL * ib : nullptr);
  return size_t(nrows * nblock) * sizeof(BlockIQ4_NL);
}

void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK4_NL; ++i, y += kQK4_NL) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      y[j] = d * float(kIQ4NLValues[x[i].qs[j] & 0xF]);
      y[j + kQK4_NL / 2] = d * float(kIQ4NLValues[x[i].qs[j] >> 4]);
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, n); }
// llama-quantize's unweighted path (ntry 7), so from_float writes what llama.cpp writes.
void from_float(const float* src, void* dst, int64_t n) { quantize_iq4_nl(src, dst, 1, n, nullptr); }
}  // namespace

const TypeInfo kTypeIQ4_NL{TypeId::IQ4_NL, "iq4_nl", kQK4_NL,     sizeof(BlockIQ4_NL), true,
                           to_float,       from_float, TypeId::Q8_0, quantize_iq4_nl};

}  // namespace qinfer
