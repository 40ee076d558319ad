// Q5_0: 32 weights per block, symmetric 5-bit codes with one fp16 scale.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK5_0 = 32;

// Layout (22 bytes, ggml block_q5_0):
//   [0..1]   d      fp16 scale
//   [2..5]   qh[4]  little-endian uint32: bit j = bit 4 of the code of element j (j < 32)
//   [6..21]  qs[16] byte j: low nibble = low 4 bits of element j, high nibble = element j+16
// Value: y = (code - 16) * d, code in 0..31.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "BlockQ5_0 must be 22 bytes (ggml block_q5_0)");

// Bit-exact with ggml's quantize_row_q5_0_ref: d = max/-16,
// code = min(31, trunc(x/d + 16.5)). k % 32 == 0.
void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t k);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t k);

extern const TypeInfo kTypeQ5_0;

}  // namespace qinfer
