#include "qinfer/quant/q5_0.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/legacy_quantize.h"

// The reference math must round after every operation (as ggml-base is built,
// without FMA) even if this file is built with -mfma: no contraction.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t k) {
  const int64_t nb = k / kQK5_0;
  for (int64_t i = 0; i < nb; ++i, x += kQK5_0) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK5_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = quant_detail::cvt_i8_x86(x[j] * id + 16.5f);
      const int q1 = quant_detail::cvt_i8_x86(x[j + kQK5_0 / 2] * id + 16.5f);
      const uint8_t c0 = uint8_t(q0 < 31 ? q0 : 31);
      const uint8_t c1 = uint8_t(q1 < 31 ? q1 : 31);
      y[i].qs[j] = uint8_t((c0 & 0x0F) | ((c1 & 0x0F) << 4));
      qh |= uint32_t((c0 & 0x10u) >> 4) << j;
      qh |= uint32_t((c1 & 0x10u) >> 4) << (j + kQK5_0 / 2);
    }
    const uint8_t le[4] = {uint8_t(qh), uint8_t(qh >> 8), uint8_t(qh >> 16), uint8_t(qh >> 24)};
    std::memcpy(y[i].qh, le, 4);
  }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t k) {
  const int64_t nb = k / kQK5_0;
  for (int64_t i = 0; i < nb; ++i, y += kQK5_0) {
    const float d = fp16_to_f32(x[i].d);
    const uint32_t qh = uint32_t(x[i].qh[0]) | uint32_t(x[i].qh[1]) << 8 | uint32_t(x[i].qh[2]) << 16 |
                        uint32_t(x[i].qh[3]) << 24;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int h0 = int((qh >> j) << 4) & 0x10;
      const int h1 = int(qh >> (j + 12)) & 0x10;
      y[j] = float(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      y[j + kQK5_0 / 2] = float(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q5_0_ref(src, static_cast<BlockQ5_0*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ5_0{TypeId::Q5_0, "q5_0", kQK5_0, sizeof(BlockQ5_0), true, to_float, from_float, TypeId::Q8_0,
                         quantize_q5_0};

}  // namespace qinfer
