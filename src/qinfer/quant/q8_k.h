// Q8_K: 256 values per block, float scale, int8 codes and per-16 sums. Only an
// activation (dot-product) type for the k-quants; never stored in files.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK_K = 256;

// Layout (292 bytes, ggml block_q8_K):
//   [0..3]     d          float32 scale (not fp16)
//   [4..259]   qs[256]    int8 codes, element j in byte j
//   [260..291] bsums[16]  int16: bsums[g] = Σ qs[16g .. 16g+15]
// Value: y = q * d.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "BlockQ8_K must be 292 bytes (ggml block_q8_K)");

// Bit-exact with ggml's quantize_row_q8_K_ref: iscale = -127/max (max = value of
// largest magnitude), q = min(127, nearest_int(iscale*x)), d = 1/iscale; an
// all-zero block gets d = 0, q = 0 (and, unlike ggml, bsums = 0). k % 256 == 0.
void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t k);
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t k);

extern const TypeInfo kTypeQ8_K;

}  // namespace qinfer
