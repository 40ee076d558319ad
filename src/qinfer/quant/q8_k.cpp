#include "qinfer/quant/q8_k.h"

#include <cmath>
#include <cstring>

// The reference math must round after every operation (as ggml-base is built,
// without FMA) even if this file is built with -mfma: no contraction.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

namespace {
// ggml's nearest_int: round half to even via the 1.5·2^23 magic constant, valid
// for |v| <= 2^22 (always true here: |iscale·x| <= 127).
int nearest_int(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}
}  // namespace

void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, sizeof(y[i].qs));
      std::memset(y[i].bsums, 0, sizeof(y[i].bsums));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = int8_t(v < 127 ? v : 127);
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[i].qs[16 * g + j];
      y[i].bsums[g] = int16_t(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t k) {
  const int64_t nb = k / kQK_K;
  for (int64_t i = 0; i < nb; ++i, y += kQK_K)
    for (int j = 0; j < kQK_K; ++j) y[j] = x[i].d * float(x[i].qs[j]);
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q8_k(static_cast<const BlockQ8_K*>(src), dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q8_k_ref(src, static_cast<BlockQ8_K*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ8_K{TypeId::Q8_K, "q8_K", kQK_K, sizeof(BlockQ8_K), true, to_float, from_float, TypeId::Q8_K};

}  // namespace qinfer
