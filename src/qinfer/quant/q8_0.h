// Q8_0: 32 values per block, symmetric 8-bit codes with one fp16 scale. Used for
// weights and as the activation type of Q4_0/Q5_0/Q8_0 dot products.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK8_0 = 32;

// Layout (34 bytes, ggml block_q8_0):
//   [0..1]   d       fp16 scale
//   [2..33]  qs[32]  int8 codes, element j in byte j
// Value: y = q * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "BlockQ8_0 must be 34 bytes (ggml block_q8_0)");

// Bit-exact with ggml's quantize_row_q8_0_ref (used to write files):
// d = amax/127, q = roundf(x * (1/d)) (halves away from zero). k % 32 == 0.
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t k);
// ggml's x86 (AVX2/AVX-512) activation quantizer: d = amax/127, but
// q = round-to-nearest-even(x * (127/amax)). This is what llama.cpp's CPU
// backend feeds its dot products on x86; kernels::convert_activations uses it
// on every ISA so results do not depend on the path.
void quantize_row_q8_0_x86(const float* x, BlockQ8_0* y, int64_t k);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t k);

extern const TypeInfo kTypeQ8_0;

}  // namespace qinfer
