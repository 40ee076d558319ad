#include "qinfer/quant/q4_k.h"

#include <cmath>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/k4_header.h"
#include "qinfer/quant/kquant_search.h"
#include "qinfer/quant/q8_k.h"

// Rounded operation by operation like ggml-base (no FMA): see kquant_search.cpp.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

using quant_detail::nearest_int;

namespace {

// Codes from the stored scales/mins, then nibble packing (low = sub-block 2c,
// high = sub-block 2c+1 of 64-element chunk c).
void requantize_and_pack(const float* x, BlockQ4_K* y, uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, y->scales, &sc, &m);
    const float d = fp16_to_f32(y->d) * float(sc);
    if (d == 0) continue;
    const float dm = fp16_to_f32(y->dmin) * float(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(l < 0 ? 0 : l > 15 ? 15 : l);
    }
  }
  uint8_t* q = y->qs;
  for (int j = 0; j < kQK_K; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
}

// quantize_row_q4_K_impl with importance weights: make_qkx3_quants per
// sub-block weighted by imatrix·sqrt(σ² + x²), scales/mins by make_qp_quants.
void quantize_row_q4_k_weighted(const float* x, BlockQ4_K* y, int64_t n_per_row, const float* qw_row) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n_per_row / kQK_K; ++i, x += kQK_K) {
    quant_detail::search_k4_header_weighted(x, qw_row + kQK_K * i, 15, L, {y[i].d, y[i].dmin, y[i].scales});
    requantize_and_pack(x, &y[i], L);
  }
}

}  // namespace

void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t k) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    quant_detail::search_k4_header(x, 15, -1.f, 20, L, {y[i].d, y[i].dmin, y[i].scales});
    requantize_and_pack(x, &y[i], L);
  }
}

size_t quantize_q4_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quant_detail::quantize_k_rows<BlockQ4_K>("q4_K", src, dst, nrows, n_per_row, imatrix, quantize_row_q4_k_ref,
                                            quantize_row_q4_k_weighted);
}

void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      unpack_scale_min_k4(is, x[i].scales, &sc, &m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      unpack_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q4_k(static_cast<const BlockQ4_K*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q4_k_ref(src, static_cast<BlockQ4_K*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ4_K{TypeId::Q4_K, "q4_K", kQK_K,       sizeof(BlockQ4_K), true,
                         to_float,     from_float, TypeId::Q8_K, quantize_q4_k};

}  // namespace qinfer
