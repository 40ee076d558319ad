#include "qinfer/quant/q3_k.h"

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

// Stores the 6-bit code l (0..63) of sub-block j into the 12 scale bytes.
void put_scale(uint8_t* s, int j, int l) {
  if (j < 8)
    s[j] = uint8_t(l & 0xF);
  else
    s[j - 8] = uint8_t(s[j - 8] | ((l & 0xF) << 4));
  s[j % 4 + 8] = uint8_t(s[j % 4 + 8] | ((l >> 4) << (2 * (j / 4))));
}

// The signed scale (code − 32) of sub-block j, as ggml reads it back.
int get_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  return int(int8_t(lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4))) - 32;
}

// Codes from the stored scales, then high bits into hmask (element j → byte
// j % 32, bit j / 32) and the low 2 bits packed as in Q2_K.
void requantize_and_pack(const float* x, BlockQ3_K* y, int8_t* L) {
  for (int j = 0; j < 16; ++j) {
    const float d = fp16_to_f32(y->d) * float(get_scale(y->scales, j));
    if (d == 0) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t((l < -4 ? -4 : l > 3 ? 3 : l) + 4);
    }
  }
  std::memset(y->hmask, 0, sizeof(y->hmask));
  for (int j = 0; j < kQK_K; ++j) {
    if (L[j] > 3) {
      y->hmask[j % 32] = uint8_t(y->hmask[j % 32] | (1 << (j / 32)));
      L[j] = int8_t(L[j] - 4);
    }
  }
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      y->qs[j / 4 + l] =
          uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// quantize_row_q3_K_impl: make_qx_quants per sub-block weighted by
// imatrix·sqrt(σ² + x²) (σ² = 2·mean x²), then the scales by make_qx_quants
// weighted by each sub-block's total weight.
void quantize_row_q3_k_weighted(const float* x, BlockQ3_K* y, int64_t n_per_row, const float* qw_row) {
  const int64_t nb = n_per_row / kQK_K;
  int8_t L[kQK_K], Ls[16];
  float scales[16], weight[16], sw[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float sumx2 = 0;
    for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = 2 * sumx2 / kQK_K;
    for (int j = 0; j < 16; ++j) {
      const float* qw = qw_row + kQK_K * i + 16 * j;
      for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 16; ++l) sumw += weight[l];
      sw[j] = sumw;
      scales[j] = quant_detail::make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    const float d_block = quant_detail::make_qx_quants(16, 32, scales, Ls, 1, sw);
    for (int j = 0; j < 16; ++j) put_scale(y[i].scales, j, Ls[j]);
    y[i].d = f32_to_fp16(d_block);
    requantize_and_pack(x, &y[i], L);
  }
}

}  // namespace

void quantize_row_q3_k_ref(const float* x, BlockQ3_K* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  int8_t L[kQK_K];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = quant_detail::make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        int l = int8_t(nearest_int(iscale * scales[j]));  // ggml stores it in an int8 first
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        put_scale(y[i].scales, j, l);
      }
      y[i].d = f32_to_fp16(1 / iscale);
    } else {
      y[i].d = f32_to_fp16(0.f);
    }
    requantize_and_pack(x, &y[i], L);
  }
}

size_t quantize_q3_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quant_detail::quantize_k_rows<BlockQ3_K>("q3_K", src, dst, nrows, n_per_row, imatrix, quantize_row_q3_k_ref,
                                            quantize_row_q3_k_weighted);
}

void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = fp16_to_f32(x[i].d);
    const uint8_t* q = x[i].qs;
    int is = 0;
    uint8_t m = 1;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * float(get_scale(x[i].scales, is++));
          const uint8_t* qp = q + 16 * part;
          const uint8_t* hm = x[i].hmask + 16 * part;
          for (int l = 0; l < 16; ++l) *y++ = dl * float(((qp[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        }
      }
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q3_k(static_cast<const BlockQ3_K*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q3_k_ref(src, static_cast<BlockQ3_K*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ3_K{TypeId::Q3_K, "q3_K", kQK_K,       sizeof(BlockQ3_K), true,
                         to_float,     from_float, TypeId::Q8_K, quantize_q3_k};

}  // namespace qinfer
