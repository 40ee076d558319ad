// llama-quantize's row quantizers for the legacy block formats (ggml's
// quantize_q4_0 … quantize_q8_0): without an importance vector they are the
// reference quantizers; with one, Q4_0/Q4_1/Q5_0/Q5_1 use ggml's weighted
// scale search (weights imatrix·sqrt(σ² + x²), σ² = mean x² over the row).
// Q8_0 ignores the importance vector, as ggml does.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qinfer {

size_t quantize_q4_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_q4_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_q5_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_q5_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_q8_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);

}  // namespace qinfer
