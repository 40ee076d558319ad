// The 16-byte header Q4_K and Q5_K share — fp16 d and dmin, then 12 bytes of
// 6-bit sub-block scales and mins — searched from one 256-value super-block.
// The two types differ only in the code range (nmax 15 or 31) and the
// reference search's parameters, so one search serves both, bit-exact with
// ggml's quantize_row_q{4,5}_K_ref / _impl.
#pragma once
#include <cstdint>

namespace qinfer::quant_detail {

struct K4Header {
  uint16_t& d;
  uint16_t& dmin;
  uint8_t* scales;  // 12 bytes
};

// Without importance weights: make_qkx2_quants per 32-wide sub-block (weights
// av|x| + |x|, rmin, rdelta 0.1, nstep), the 8 scales and mins rounded to 6
// bits against the largest. L receives the sub-block codes 0..nmax.
void search_k4_header(const float* x, int nmax, float rmin, int nstep, uint8_t* L, K4Header out);

// With importance weights qw (256 values): make_qkx3_quants weighted by
// qw·sqrt(σ² + x²), scales and mins by make_qp_quants.
void search_k4_header_weighted(const float* x, const float* qw, int nmax, uint8_t* L, K4Header out);

}  // namespace qinfer::quant_detail
