// INT8: LLM.int8 (Dettmers et al., arXiv 2208.07339) as bitsandbytes'
// Linear8bitLt stores it: each weight row (output channel) as int8 codes with
// the row's absmax (vector-wise quantization). At run time each input row
// (token) is quantized the same way, except its outlier features, |x| ≥ the
// threshold, which are kept in float and multiplied with the dequantized
// weights (the mixed-precision decomposition). qinfer decides the outliers per
// token, so a token's result never depends on the other tokens of the batch
// (bitsandbytes decides per batch). qinfer-only type.
#pragma once
#include <cstdint>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

constexpr int kQK_INT8 = 32;                  // rows are a multiple of 32 (SIMD width), codes are per row
constexpr float kInt8DefaultThreshold = 6.0f; // bitsandbytes' llm_int8_threshold

// Row layout (8 + n bytes):
//   [0..3]  scb        float32: the row's absmax (bitsandbytes' SCB)
//   [4..7]  threshold  float32: activation outlier threshold for this tensor (0: none)
//   [8..]   codes      int8 × n: round(x · 127 / scb)
// Value: y = code · scb / 127.
struct Int8RowHeader {
  float scb;
  float threshold;
};
static_assert(sizeof(Int8RowHeader) == 8, "Int8RowHeader must be 8 bytes");

// Quantizes nrows rows of n weights; threshold goes into every row header.
void quantize_int8_rows(const float* x, void* dst, int64_t nrows, int64_t n, float threshold);
// One row (header + codes) back to n floats.
void dequantize_int8_row(const void* row, float* y, int64_t n);

// One activation row, as LLM.int8's int8_vectorwise_quant: features with
// |x| ≥ threshold (threshold > 0) are outliers, left out of the absmax and
// coded 0; their indices go to outliers (room for n), their count is
// returned in *n_outliers. Returns the absmax of the other features; codes
// are round(x · 127 / absmax).
float quantize_int8_activation(const float* x, int64_t n, float threshold, int8_t* q, int32_t* outliers,
                               int64_t* n_outliers);

// The reference dot of one weight row with one float activation row, in the
// order every kernel follows (so results agree exactly):
//   float(Σ q_a·q_w) · ((a_max / 127) · (scb / 127)) + Σ_outliers x_j · (q_w,j · (scb / 127)).
float int8_row_dot(const void* w_row, int64_t n, const int8_t* qa, float a_max, const float* x, const int32_t* outliers,
                   int64_t n_outliers);
// The float part of int8_row_dot given acc = Σ q_a·q_w (SIMD kernels compute acc).
float int8_row_finish(const void* w_row, int32_t acc, float a_max, const float* x, const int32_t* outliers,
                      int64_t n_outliers);

extern const TypeInfo kTypeINT8;

}  // namespace qinfer
