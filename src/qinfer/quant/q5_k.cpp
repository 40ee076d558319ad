#include "qinfer/quant/q5_k.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/k4_header.h"
#include "qinfer/quant/kquant_search.h"
#include "qinfer/quant/q8_k.h"

// Rounded operation by operation like ggml-base (no FMA): see kquant_search.cpp.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

using quant_detail::nearest_int;

namespace {

// Codes 0..31 from the stored scales/mins; low nibbles packed as Q4_K, bit 4
// of element 32j + l into qh[l] bit j.
void requantize_and_pack(const float* x, BlockQ5_K* y, uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, y->scales, &sc, &m);
    const float d = fp16_to_f32(y->d) * float(sc);
    if (d == 0) continue;
    const float dm = fp16_to_f32(y->dmin) * float(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(l < 0 ? 0 : l > 31 ? 31 : l);
    }
  }
  std::memset(y->qh, 0, sizeof(y->qh));
  uint8_t* ql = y->qs;
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQK_K; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) {
        l1 -= 16;
        y->qh[j] |= m1;
      }
      if (l2 > 15) {
        l2 -= 16;
        y->qh[j] |= m2;
      }
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
  }
}

// quantize_row_q5_K_impl with importance weights (as Q4_K's, with nmax 31).
void quantize_row_q5_k_weighted(const float* x, BlockQ5_K* y, int64_t n_per_row, const float* qw_row) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n_per_row / kQK_K; ++i, x += kQK_K) {
    quant_detail::search_k4_header_weighted(x, qw_row + kQK_K * i, 31, L, {y[i].d, y[i].dmin, y[i].scales});
    requantize_and_pack(x, &y[i], L);
  }
}

}  // namespace

void quantize_row_q5_k_ref(const float* x, BlockQ5_K* y, int64_t k) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    quant_detail::search_k4_header(x, 31, -0.5f, 15, L, {y[i].d, y[i].dmin, y[i].scales});
    requantize_and_pack(x, &y[i], L);
  }
}

size_t quantize_q5_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quant_detail::quantize_k_rows<BlockQ5_K>("q5_K", src, dst, nrows, n_per_row, imatrix, quantize_row_q5_k_ref,
                                            quantize_row_q5_k_weighted);
}

void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32, u1 = uint8_t(u1 << 2), u2 = uint8_t(u2 << 2)) {
      uint8_t sc, m;
      unpack_scale_min_k4(is, x[i].scales, &sc, &m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      unpack_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q5_k(static_cast<const BlockQ5_K*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q5_k_ref(src, static_cast<BlockQ5_K*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ5_K{TypeId::Q5_K, "q5_K", kQK_K,       sizeof(BlockQ5_K), true,
                         to_float,     from_float, TypeId::Q8_K, quantize_q5_k};

}  // namespace qinfer
