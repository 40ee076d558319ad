// Q5_1: 32 weights per block, asymmetric 5-bit codes with fp16 scale and minimum.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK5_1 = 32;

// Layout (24 bytes, ggml block_q5_1):
//   [0..1]   d      fp16 scale
//   [2..3]   m      fp16 minimum
//   [4..7]   qh[4]  little-endian uint32: bit j = bit 4 of the code of element j (j < 32)
//   [8..23]  qs[16] byte j: low nibble = low 4 bits of element j, high nibble = element j+16
// Value: y = code * d + m, code in 0..31.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "BlockQ5_1 must be 24 bytes (ggml block_q5_1)");

// Bit-exact with ggml's quantize_row_q5_1_ref: d = (max-min)/31, m = min,
// code = trunc((x-min)/d + 0.5) (ggml applies no clamp here). k % 32 == 0.
void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t k);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t k);

extern const TypeInfo kTypeQ5_1;

}  // namespace qinfer
