#include "qinfer/quant/q2_k.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/kquant_search.h"
#include "qinfer/quant/q8_k.h"

// Rounded operation by operation like ggml-base (no FMA): see kquant_search.cpp.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

using quant_detail::nearest_int;

namespace {

// Final codes from the stored (fp16) super-scales, then the 2-bit packing:
// byte l of each 32-byte half holds elements l, l+32, l+64, l+96 (2 bits each).
void requantize_and_pack(const float* x, BlockQ2_K* y, uint8_t* L) {
  const float d_all = fp16_to_f32(y->d), m_all = fp16_to_f32(y->dmin);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * float(y->scales[j] & 0xF);
    if (d == 0) continue;
    const float dm = m_all * float(y->scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int((x[16 * j + ii] + dm) / d);
      L[16 * j + ii] = uint8_t(l < 0 ? 0 : l > 3 ? 3 : l);
    }
  }
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      y->qs[j / 4 + l] =
          uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// quantize_row_q2_K_impl: per-sub-block min/scale search weighted by
// imatrix·sqrt(σ² + x²), then the 16 scales and mins quantized to 4 bits with
// make_qp_quants.
void quantize_row_q2_k_weighted(const float* x, BlockQ2_K* y, int64_t n_per_row, const float* qw_row) {
  const int64_t nb = n_per_row / kQK_K;
  uint8_t L[kQK_K], Laux[16], Ls[16], Lm[16];
  float mins[16], scales[16], sw[16], weight[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    std::memset(sw, 0, sizeof(sw));
    float sumx2 = 0;
    for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = sumx2 / kQK_K;
    for (int j = 0; j < 16; ++j) {
      const float* qw = qw_row + kQK_K * i + 16 * j;
      for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      for (int l = 0; l < 16; ++l) sw[j] += weight[l];
      scales[j] = quant_detail::make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f,
                                                 0.05f, 36, false);
    }
    const float dm = quant_detail::make_qp_quants(16, 15, scales, Ls, sw);
    const float mm = quant_detail::make_qp_quants(16, 15, mins, Lm, sw);
    y[i].d = f32_to_fp16(dm);
    y[i].dmin = f32_to_fp16(mm);
    for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(Ls[j] | (Lm[j] << 4));
    requantize_and_pack(x, &y[i], L);
  }
}

}  // namespace

void quantize_row_q2_k_ref(const float* x, BlockQ2_K* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  uint8_t L[kQK_K], Laux[16];
  float weights[16], mins[16], scales[16];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, max_min = 0;  // mins are subtracted, so scales are positive
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = quant_detail::make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                                 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      y[i].d = f32_to_fp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < 16; ++j) y[i].scales[j] = 0;
      y[i].d = f32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(y[i].scales[j] | (nearest_int(iscale * mins[j]) << 4));
      y[i].dmin = f32_to_fp16(max_min / q4scale);
    } else {
      y[i].dmin = f32_to_fp16(0.f);
    }
    requantize_and_pack(x, &y[i], L);
  }
}

size_t quantize_q2_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quant_detail::quantize_k_rows<BlockQ2_K>("q2_K", src, dst, nrows, n_per_row, imatrix, quantize_row_q2_k_ref,
                                            quantize_row_q2_k_weighted);
}

void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * float(sc & 0xF), ml = dmin * float(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * part] >> shift) & 3) - ml;
        }
      }
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q2_k(static_cast<const BlockQ2_K*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q2_k_ref(src, static_cast<BlockQ2_K*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ2_K{TypeId::Q2_K, "q2_K", kQK_K,       sizeof(BlockQ2_K), true,
                         to_float,     from_float, TypeId::Q8_K, quantize_q2_k};

}  // namespace qinfer
