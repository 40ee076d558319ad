// Helpers shared by the block formats' scalar reference code.
#pragma once
#include <cstdint>
#include <climits>
#include <cmath>

namespace qinfer {

// True when any of the n floats is NaN or ±Inf. The reference quantizers are
// defined only for finite input (a NaN or Inf would make the block scale NaN and
// every code in the block garbage); quantize callers check rows with this and
// raise an error naming the tensor and row.
bool row_has_nonfinite(const float* x, int64_t n);
// Index of the first NaN/Inf among n floats, or -1 when all are finite.
int64_t find_nonfinite(const float* x, int64_t n);

namespace quant_detail {

// ggml's reference quantizers convert float to int8/uint8 with a plain C cast,
// which is undefined outside the target range; on x86 (where the golden files
// come from) it compiles to cvttss2si: truncation toward zero into int32, and
// INT32_MIN for NaN and out-of-range values, of which the low byte is kept.
// This emulates exactly that, with defined behaviour for every input, so that
// even degenerate blocks (denormal scales whose reciprocal overflows) quantize
// to the same bytes as llama.cpp on x86.
inline uint8_t cvt_byte_x86(float v) {
  int32_t i = (v >= -2147483648.0f && v < 2147483648.0f) ? int32_t(v) : INT32_MIN;
  return uint8_t(uint32_t(i) & 0xffu);
}
// The same conversion read back as a signed byte.
inline int cvt_i8_x86(float v) { return int(int8_t(cvt_byte_x86(v))); }

// _mm256_cvtps_epi32 in the default rounding mode: round half to even, and
// INT32_MIN for NaN and values outside the int32 range (so an all-denormal
// block, whose 127/amax overflows to Inf, quantizes as it does in ggml on x86).
inline int32_t cvtps_epi32_x86(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
  return int32_t(std::nearbyint(v));
}

}  // namespace quant_detail
}  // namespace qinfer
