// Q5_K: Q4_K plus one high bit per code (5-bit codes 0..31).
#pragma once
#include <cstdint>

#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

// Layout (176 bytes, ggml block_q5_K):
//   [0..1]     d           fp16 super-scale of the scale codes
//   [2..3]     dmin        fp16 super-scale of the min codes
//   [4..15]    scales[12]  as Q4_K (unpack_scale_min_k4)
//   [16..47]   qh[32]      high bits: element 32j + l (sub-block j) has it in qh[l] bit j
//   [48..175]  qs[128]     low 4 bits, packed as Q4_K's qs
// Value: y = d·sc[j]·(low4 + 16·high) − dmin·m[j].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176, "BlockQ5_K must be 176 bytes (ggml block_q5_K)");

// Bit-exact with ggml's quantize_row_q5_K_ref. k % 256 == 0.
void quantize_row_q5_k_ref(const float* x, BlockQ5_K* y, int64_t k);
// ggml's quantize_q5_K (ref without imatrix, quantize_row_q5_K_impl with). Returns bytes written.
size_t quantize_q5_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t k);

extern const TypeInfo kTypeQ5_K;

}  // namespace qinfer
