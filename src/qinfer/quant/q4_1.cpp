#include "qinfer/quant/q4_1.h"

#include <cfloat>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/legacy_quantize.h"

// The reference math must round after every operation (as ggml-base is built,
// without FMA) even if this file is built with -mfma: no contraction.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t k) {
  const int64_t nb = k / kQK4_1;
  for (int64_t i = 0; i < nb; ++i, x += kQK4_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK4_1; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int q0 = quant_detail::cvt_i8_x86((x[j] - min) * id + 0.5f);
      const int q1 = quant_detail::cvt_i8_x86((x[j + kQK4_1 / 2] - min) * id + 0.5f);
      const uint8_t c0 = uint8_t(q0 < 15 ? q0 : 15);
      const uint8_t c1 = uint8_t(q1 < 15 ? q1 : 15);
      y[i].qs[j] = uint8_t(c0 | (c1 << 4));
    }
  }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t k) {
  const int64_t nb = k / kQK4_1;
  for (int64_t i = 0; i < nb; ++i, y += kQK4_1) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = float(x[i].qs[j] & 0x0F) * d + m;
      y[j + kQK4_1 / 2] = float(x[i].qs[j] >> 4) * d + m;
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q4_1(static_cast<const BlockQ4_1*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q4_1_ref(src, static_cast<BlockQ4_1*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ4_1{TypeId::Q4_1, "q4_1", kQK4_1, sizeof(BlockQ4_1), true, to_float, from_float, TypeId::Q8_1,
                         quantize_q4_1};

}  // namespace qinfer
