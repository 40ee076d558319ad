// Q8_1: 32 values per block, symmetric 8-bit codes with fp16 scale and the
// scaled sum of the codes. Activation type of Q4_1/Q5_1 dot products (the sum
// carries the weights' minimum term: Σ(q_w·d_w + m_w)·x = d_w·Σq_w·x + m_w·s).
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK8_1 = 32;

// Layout (36 bytes, ggml block_q8_1):
//   [0..1]   d       fp16 scale
//   [2..3]   s       fp16 of d * Σ qs
//   [4..35]  qs[32]  int8 codes, element j in byte j
// Value: y = q * d.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK8_1];
};
static_assert(sizeof(BlockQ8_1) == 36, "BlockQ8_1 must be 36 bytes (ggml block_q8_1)");

// Bit-exact with ggml's quantize_row_q8_1_ref: as Q8_0's reference (roundf),
// s = fp16(Σq * d) with d the float scale before rounding to fp16.
void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t k);
// ggml's x86 activation quantizer (round-half-even of x * 127/amax); see q8_0.h.
void quantize_row_q8_1_x86(const float* x, BlockQ8_1* y, int64_t k);
// Not in ggml (Q8_1 is never stored); provided for tests and completeness.
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t k);

extern const TypeInfo kTypeQ8_1;

}  // namespace qinfer
