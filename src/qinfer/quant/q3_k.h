// Q3_K: 256 weights per super-block of 16 sub-blocks of 16, symmetric 3-bit
// codes (2 low bits + 1 high bit) with 6-bit signed sub-block scales and one
// fp16 super-scale.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

// Layout (110 bytes, ggml block_q3_K):
//   [0..31]    hmask[32]   high bit of the codes: element 32b + l (b = 0..7, l < 32)
//                          has its high bit in hmask[l] bit b
//   [32..95]   qs[64]      low 2 bits, packed as in Q2_K
//   [96..107]  scales[12]  16 six-bit scale codes sc (value sc − 32):
//                          sc[j] low 4 bits = j < 8 ? scales[j] & 15 : scales[j−8] >> 4,
//                          high 2 bits = (scales[8 + j%4] >> 2·(j/4)) & 3
//   [108..109] d           fp16 super-scale (last)
// Value: y = d·(sc − 32)·(low2 − (high bit ? 0 : 4)); sub-blocks ordered as in Q2_K.
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110, "BlockQ3_K must be 110 bytes (ggml block_q3_K)");

// Bit-exact with ggml's quantize_row_q3_K_ref. k % 256 == 0.
void quantize_row_q3_k_ref(const float* x, BlockQ3_K* y, int64_t k);
// ggml's quantize_q3_K (ref without imatrix, quantize_row_q3_K_impl with). Returns bytes written.
size_t quantize_q3_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t k);

extern const TypeInfo kTypeQ3_K;

}  // namespace qinfer
