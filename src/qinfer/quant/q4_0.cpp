#include "qinfer/quant/q4_0.h"

#include <cmath>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/legacy_quantize.h"

// The reference math must round after every operation (as ggml-base is built,
// without FMA) even if this file is built with -mfma: no contraction.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t k) {
  const int64_t nb = k / kQK4_0;
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    float amax = 0.0f, max = 0.0f;  // largest magnitude and its signed value (first wins)
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = quant_detail::cvt_i8_x86(x[j] * id + 8.5f);
      const int q1 = quant_detail::cvt_i8_x86(x[j + kQK4_0 / 2] * id + 8.5f);
      const uint8_t c0 = uint8_t(q0 < 15 ? q0 : 15);
      const uint8_t c1 = uint8_t(q1 < 15 ? q1 : 15);
      y[i].qs[j] = uint8_t(c0 | (c1 << 4));
    }
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t k) {
  const int64_t nb = k / kQK4_0;
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = float((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + kQK4_0 / 2] = float((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q4_0_ref(src, static_cast<BlockQ4_0*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ4_0{TypeId::Q4_0, "q4_0", kQK4_0, sizeof(BlockQ4_0), true, to_float, from_float, TypeId::Q8_0,
                         quantize_q4_0};

}  // namespace qinfer
