// Q6_K: 256 weights per super-block of 16 sub-blocks of 16, 6-bit codes with
// int8 sub-block scales and one fp16 super-scale.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

// Layout (210 bytes, ggml block_q6_K):
//   [0..127]    ql[128]     low 4 bits of the codes
//   [128..191]  qh[64]      high 2 bits of the codes
//   [192..207]  scales[16]  int8 sub-block scales
//   [208..209]  d           fp16 super-block scale (last)
// For each 128-element half h (ql += 64, qh += 32, scales += 8 per half), l < 32:
//   y[l]    = d·sc[l/16]  ·((ql[l]    & 15 | (qh[l] >> 0 & 3) << 4) − 32)
//   y[l+32] = d·sc[l/16+2]·((ql[l+32] & 15 | (qh[l] >> 2 & 3) << 4) − 32)
//   y[l+64] = d·sc[l/16+4]·((ql[l]    >> 4 | (qh[l] >> 4 & 3) << 4) − 32)
//   y[l+96] = d·sc[l/16+6]·((ql[l+32] >> 4 | (qh[l] >> 6 & 3) << 4) − 32)
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "BlockQ6_K must be 210 bytes (ggml block_q6_K)");

// Bit-exact with ggml's quantize_row_q6_K_ref. k % 256 == 0.
void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t k);
// ggml's quantize_q6_K (ref without imatrix, quantize_row_q6_K_impl with). Returns bytes written.
size_t quantize_q6_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t k);

extern const TypeInfo kTypeQ6_K;

}  // namespace qinfer
