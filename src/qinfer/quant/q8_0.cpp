#include "qinfer/quant/q8_0.h"

#include <cmath>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/legacy_quantize.h"

// The reference math must round after every operation (as ggml-base is built,
// without FMA) even if this file is built with -mfma: no contraction.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t k) {
  const int64_t nb = k / kQK8_0;
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) y[i].qs[j] = int8_t(quant_detail::cvt_i8_x86(std::round(x[j] * id)));
  }
}

void quantize_row_q8_0_x86(const float* x, BlockQ8_0* y, int64_t k) {
  const int64_t nb = k / kQK8_0;
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) {
      // nearbyint rounds half to even in the default rounding mode, like
      // _mm256_round_ps(_MM_ROUND_NEAREST); packs saturate to int8.
      const int32_t q = quant_detail::cvtps_epi32_x86(x[j] * id);
      y[i].qs[j] = int8_t(q > 127 ? 127 : q < -128 ? -128 : q);
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t k) {
  const int64_t nb = k / kQK8_0;
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = float(x[i].qs[j]) * d;
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q8_0_ref(src, static_cast<BlockQ8_0*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ8_0{TypeId::Q8_0, "q8_0", kQK8_0, sizeof(BlockQ8_0), true, to_float, from_float, TypeId::Q8_0,
                         quantize_q8_0};

}  // namespace qinfer
