// Q4_K: 256 weights per super-block of 8 sub-blocks of 32, 4-bit codes with a
// 6-bit scale and 6-bit min per sub-block and two fp16 super-scales.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

// Layout (144 bytes, ggml block_q4_K):
//   [0..1]    d           fp16 super-scale of the scale codes
//   [2..3]    dmin        fp16 super-scale of the min codes
//   [4..15]   scales[12]  8 six-bit scales sc[j] and mins m[j] (unpack_scale_min_k4):
//                          j < 4: sc = s[j] & 63,            m = s[j+4] & 63
//                          j ≥ 4: sc = s[j+4] & 15 | (s[j−4] >> 6) << 4,
//                                 m  = s[j+4] >> 4 | (s[j]   >> 6) << 4
//   [16..143] qs[128]     4-bit codes: 64-element chunk c uses qs[32c .. 32c+31];
//                          low nibbles are sub-block 2c, high nibbles sub-block 2c+1
// Value: y = d·sc[j]·q − dmin·m[j].
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144, "BlockQ4_K must be 144 bytes (ggml block_q4_K)");

// The 6-bit (scale, min) pair of sub-block j (0..7) of a Q4_K/Q5_K block.
inline void unpack_scale_min_k4(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = uint8_t((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    *m = uint8_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// The inverse: stores the pair (ls, lm), each 0..63, of sub-block j. Sub-blocks
// 4..7 OR into bytes that sub-blocks 0..3 wrote, so store j in increasing order.
inline void pack_scale_min_k4(int j, uint8_t* s, uint8_t ls, uint8_t lm) {
  if (j < 4) {
    s[j] = ls;
    s[j + 4] = lm;
  } else {
    s[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
    s[j - 4] = uint8_t(s[j - 4] | ((ls >> 4) << 6));
    s[j] = uint8_t(s[j] | ((lm >> 4) << 6));
  }
}

// Bit-exact with ggml's quantize_row_q4_K_ref. k % 256 == 0.
void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t k);
// ggml's quantize_q4_K (ref without imatrix, quantize_row_q4_K_impl with). Returns bytes written.
size_t quantize_q4_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t k);

extern const TypeInfo kTypeQ4_K;

}  // namespace qinfer
