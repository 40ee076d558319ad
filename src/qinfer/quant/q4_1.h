// Q4_1: 32 weights per block, asymmetric 4-bit codes with fp16 scale and minimum.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK4_1 = 32;

// Layout (20 bytes, ggml block_q4_1):
//   [0..1]   d      fp16 scale
//   [2..3]   m      fp16 minimum
//   [4..19]  qs[16] byte j: low nibble = code of element j, high nibble = element j+16
// Value: y = code * d + m, code in 0..15.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "BlockQ4_1 must be 20 bytes (ggml block_q4_1)");

// Bit-exact with ggml's quantize_row_q4_1_ref: d = (max-min)/15, m = min,
// code = min(15, trunc((x-min)/d + 0.5)). k % 32 == 0.
void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t k);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t k);

extern const TypeInfo kTypeQ4_1;

}  // namespace qinfer
