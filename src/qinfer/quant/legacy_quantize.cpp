#include "qinfer/quant/legacy_quantize.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/kquant_search.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q4_1.h"
#include "qinfer/quant/q5_0.h"
#include "qinfer/quant/q5_1.h"
#include "qinfer/quant/q8_0.h"

// Rounded operation by operation like ggml-base (no FMA): see kquant_search.cpp.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

namespace {

constexpr int kQK = 32;  // every legacy format has 32-element blocks

// σ² of the row and the per-element weights of block ib.
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / float(n);
}

void block_weights(const float* xb, const float* qw, float sigma2, float* w) {
  for (int j = 0; j < kQK; ++j) w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// Bit 4 of each 5-bit code into the little-endian qh word (element j → bit j).
void pack5(const uint8_t* L, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = uint8_t((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
    qh |= uint32_t((L[j] & 0x10u) >> 4) << j;
    qh |= uint32_t((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}

void row_q4_0(const float* x, BlockQ4_0* y, int64_t n, const float* imatrix) {
  const float sigma2 = row_sigma2(x, n);
  float w[kQK];
  int8_t L[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    block_weights(xb, imatrix + kQK * ib, sigma2, w);
    y[ib].d = f32_to_fp16(quant_detail::make_qx_quants(kQK, 8, xb, L, 1, w));
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void row_q4_1(const float* x, BlockQ4_1* y, int64_t n, const float* imatrix) {
  const float sigma2 = row_sigma2(x, n);
  float w[kQK], min;
  uint8_t L[kQK], Laux[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    block_weights(xb, imatrix + kQK * ib, sigma2, w);
    const float d = quant_detail::make_qkx3_quants(kQK, 15, xb, w, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = f32_to_fp16(d);
    y[ib].m = f32_to_fp16(-min);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void row_q5_0(const float* x, BlockQ5_0* y, int64_t n, const float* imatrix) {
  const float sigma2 = row_sigma2(x, n);
  float w[kQK];
  int8_t L[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    block_weights(xb, imatrix + kQK * ib, sigma2, w);
    y[ib].d = f32_to_fp16(quant_detail::make_qx_quants(kQK, 16, xb, L, 1, w));
    pack5(reinterpret_cast<const uint8_t*>(L), y[ib].qs, y[ib].qh);
  }
}

void row_q5_1(const float* x, BlockQ5_1* y, int64_t n, const float* imatrix) {
  const float sigma2 = row_sigma2(x, n);
  float w[kQK], min;
  uint8_t L[kQK], Laux[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    block_weights(xb, imatrix + kQK * ib, sigma2, w);
    const float d = quant_detail::make_qkx3_quants(kQK, 31, xb, w, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = f32_to_fp16(d);
    y[ib].m = f32_to_fp16(-min);
    pack5(L, y[ib].qs, y[ib].qh);
  }
}

// The shared driver: checks, then per row the ref quantizer or the weighted one.
template <typename Block, void (*Ref)(const float*, Block*, int64_t),
          void (*Weighted)(const float*, Block*, int64_t, const float*)>
size_t quantize_rows(const char* name, const float* src, void* dst, int64_t nrows, int64_t n, const float* imatrix) {
  quant_detail::check_quantize_input(name, kQK, src, nrows, n, imatrix);
  auto* y = static_cast<Block*>(dst);
  const int64_t nb = n / kQK;
  for (int64_t r = 0; r < nrows; ++r, src += n, y += nb) {
    if (imatrix && Weighted)
      Weighted(src, y, n, imatrix);
    else
      Ref(src, y, n);
  }
  return size_t(nrows * nb) * sizeof(Block);
}

}  // namespace

size_t quantize_q4_0(const float* src, void* dst, int64_t nrows, int64_t n, const float* imatrix) {
  return quantize_rows<BlockQ4_0, quantize_row_q4_0_ref, row_q4_0>("q4_0", src, dst, nrows, n, imatrix);
}
size_t quantize_q4_1(const float* src, void* dst, int64_t nrows, int64_t n, const float* imatrix) {
  return quantize_rows<BlockQ4_1, quantize_row_q4_1_ref, row_q4_1>("q4_1", src, dst, nrows, n, imatrix);
}
size_t quantize_q5_0(const float* src, void* dst, int64_t nrows, int64_t n, const float* imatrix) {
  return quantize_rows<BlockQ5_0, quantize_row_q5_0_ref, row_q5_0>("q5_0", src, dst, nrows, n, imatrix);
}
size_t quantize_q5_1(const float* src, void* dst, int64_t nrows, int64_t n, const float* imatrix) {
  return quantize_rows<BlockQ5_1, quantize_row_q5_1_ref, row_q5_1>("q5_1", src, dst, nrows, n, imatrix);
}
size_t quantize_q8_0(const float* src, void* dst, int64_t nrows, int64_t n, const float* imatrix) {
  return quantize_rows<BlockQ8_0, quantize_row_q8_0_ref, nullptr>("q8_0", src, dst, nrows, n, imatrix);
}

}  // namespace qinfer
