// Q4_0: 32 weights per block, symmetric 4-bit codes with one fp16 scale.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK4_0 = 32;

// Layout (18 bytes, ggml block_q4_0):
//   [0..1]   d      fp16 scale
//   [2..17]  qs[16] byte j: low nibble = code of element j, high nibble = element j+16
// Value: y = (code - 8) * d, code in 0..15.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "BlockQ4_0 must be 18 bytes (ggml block_q4_0)");

// Bit-exact with ggml's quantize_row_q4_0_ref: d = max/-8 where max is the value
// with the largest magnitude, code = min(15, trunc(x/d + 8.5)). k % 32 == 0.
void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t k);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t k);

extern const TypeInfo kTypeQ4_0;

}  // namespace qinfer
