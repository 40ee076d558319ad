// IQ4_NL: 32 weights per block, 4-bit indices into a fixed non-linear int8
// codebook, one fp16 scale. Dot products use Q8_0 activations.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK4_NL = 32;

// The codebook (ggml kvalues_iq4nl): value of code c is kIQ4NLValues[c].
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Layout (18 bytes, ggml block_iq4_nl):
//   [0..1]   d      fp16 scale
//   [2..17]  qs[16] byte j: low nibble = code of element j, high nibble = element j+16
// Value: y = d · kIQ4NLValues[code].
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK4_NL / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18, "BlockIQ4_NL must be 18 bytes (ggml block_iq4_nl)");

// ggml's quantize_iq4_nl, what llama-quantize calls with or without an imatrix
// (null imatrix → weights x²; else imatrix·sqrt(σ² + x²)). Returns bytes written.
// ggml's quantize_row_iq4_nl_ref (a single pass, no scale search) is not what
// llama-quantize writes, so it has no counterpart here.
size_t quantize_iq4_nl(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t k);

extern const TypeInfo kTypeIQ4_NL;

}  // namespace qinfer
