#include "qinfer/quant/q6_k.h"

#include "qinfer/core/fp16.h"

#pragma GCC optimize("fp-contract=off")

namespace qinfer {

void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t k) {
  const int64_t nb = k / 256;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = int((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = int((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        y[l] = d * float(sc[is + 0]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
    }
  }
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_row_q6_k(static_cast<const BlockQ6_K*>(src), dst, n); }
}  // namespace

const TypeInfo kTypeQ6_K{TypeId::Q6_K, "q6_K", 256, sizeof(BlockQ6_K), true, to_float, nullptr, TypeId::Q8_K};

}  // namespace qinfer
