// Q2_K: 256 weights per super-block of 16 sub-blocks of 16, 2-bit codes with a
// 4-bit scale and a 4-bit min per sub-block and two fp16 super-scales.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

// Layout (84 bytes, ggml block_q2_K):
//   [0..15]   scales[16]  sub-block j: low nibble = scale code, high nibble = min code
//   [16..79]  qs[64]      2-bit codes
//   [80..81]  d           fp16 super-scale of the scale codes
//   [82..83]  dmin        fp16 super-scale of the min codes
// For each 128-element half h (qs += 32 per half) and shift s = 0,2,4,6 (pass p = s/2),
// l < 16, with sub-block j = 8h + 2p (+1 for the second 16):
//   y[128h + 32p + l]      = d·(sc[j]&15)  ·((qs[l]    >> s) & 3) − dmin·(sc[j]>>4)
//   y[128h + 32p + 16 + l] = d·(sc[j+1]&15)·((qs[l+16] >> s) & 3) − dmin·(sc[j+1]>>4)
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84, "BlockQ2_K must be 84 bytes (ggml block_q2_K)");

// Bit-exact with ggml's quantize_row_q2_K_ref (no importance weights). k % 256 == 0.
void quantize_row_q2_k_ref(const float* x, BlockQ2_K* y, int64_t k);
// ggml's quantize_q2_K: the ref path when imatrix is null, else the weighted
// search of quantize_row_q2_K_impl. imatrix has n_per_row floats. Returns bytes written.
size_t quantize_q2_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t k);

extern const TypeInfo kTypeQ2_K;

}  // namespace qinfer
