#include "qinfer/quant/q5_1.h"

#include <cfloat>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/legacy_quantize.h"

// The reference math must round after every operation (as ggml-base is built,
// without FMA) even if this file is built with -mfma: no contraction.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t k) {
  const int64_t nb = k / kQK5_1;
  for (int64_t i = 0; i < nb; ++i, x += kQK5_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK5_1; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const uint8_t c0 = quant_detail::cvt_byte_x86((x[j] - min) * id + 0.5f);
      const uint8_t c1 = quant_detail::cvt_byte_x86((x[j + kQK5_1 / 2] - min) * id + 0.5f);
      y[i].qs[j] = uint8_t((c0 & 0x0F) | ((c1 & 0x0F) << 4));
      qh |= uint32_t((c0 & 0x10u) >> 4) << j;
      qh |= uint32_t((c1 & 0x10u) >> 4) << (j + kQK5_1 / 2);
    }
    const uint8_t le[4] = {uint8_t(qh), uint8_t(qh >> 8), uint8_t(qh >> 16), uint8_t(qh >> 24)};
    std::memcpy(y[i].qh, le, 4);
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t k) {
  const int64_t nb = k / kQK5_1;
  for (int64_t i = 0; i < nb; ++i, y += kQK5_1) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    const uint32_t qh = uint32_t(x[i].qh[0]) | uint32_t(x[i].qh[1]) << 8 | uint32_t(x[i].qh[2]) << 16 |
                        uint32_t(x[i].qh[3]) << 24;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int h0 = int((qh >> j) << 4) & 0x10;
      const int h1 = int(qh >> (j + 12)) & 0x10;
      y[j] = float((x[i].qs[j] & 0x0F) | h0) * d + m;
      y[j + kQK5_1 / 2] = float((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q5_1_ref(src, static_cast<BlockQ5_1*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ5_1{TypeId::Q5_1, "q5_1", kQK5_1, sizeof(BlockQ5_1), true, to_float, from_float, TypeId::Q8_1,
                         quantize_q5_1};

}  // namespace qinfer
