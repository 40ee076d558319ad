#include "qinfer/quant/q6_k.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/kquant_search.h"

#pragma GCC optimize("fp-contract=off")

namespace qinfer {

namespace {

// quantize_row_q6_K_impl: make_qx_quants per sub-block of 16 (weights x², or
// the raw importance vector when given), int8 scales relative to the largest,
// then the codes requantized against the stored scales.
void quantize_row_q6_k_impl(const float* x, BlockQ6_K* y, int64_t n_per_row, const float* qw_row) {
  const int64_t nb = n_per_row / 256;
  int8_t L[256];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float max_scale = 0, max_abs_scale = 0;
    // Without weights the 16 sub-block searches run 8 at a time, one per SIMD lane.
    const bool x8 = !qw_row && quant_detail::kquant_x8_available();
    if (x8)
      for (int h = 0; h < 2; ++h) quant_detail::make_qx_quants_x8_rmse1(x + 128 * h, 32, L + 128 * h, scales + 8 * h);
    for (int ib = 0; ib < 16; ++ib) {
      const float* qw = qw_row ? qw_row + 256 * i + 16 * ib : nullptr;
      const float scale = x8 ? scales[ib] : quant_detail::make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < quant_detail::kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      y[i].d = f32_to_fp16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_fp16(1 / iscale);
    for (int ib = 0; ib < 16; ++ib) {
      const int l = quant_detail::nearest_int(iscale * scales[ib]);
      y[i].scales[ib] = int8_t(l < 127 ? l : 127);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = fp16_to_f32(y[i].d) * float(y[i].scales[j]);
      if (d == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = quant_detail::nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = int8_t((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l] = uint8_t(q1 | (q3 << 4));
        ql[l + 32] = uint8_t(q2 | (q4 << 4));
        qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                        ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

// The ref quantizer is the impl without weights (ggml keeps two identical copies).
void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t k) { quantize_row_q6_k_impl(x, y, k, nullptr); }

size_t quantize_q6_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  quant_detail::check_quantize_input("q6_K", 256, src, nrows, n_per_row, imatrix);
  const size_t row_bytes = size_t(n_per_row / 256) * sizeof(BlockQ6_K);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t r = 0; r < nrows; ++r)
    quantize_row_q6_k_impl(src + r * n_per_row, reinterpret_cast<BlockQ6_K*>(out + size_t(r) * row_bytes),
                           n_per_row, imatrix);
  return size_t(nrows) * row_bytes;
}

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
void from_float(const float* src, void* dst, int64_t n) { quantize_row_q6_k_ref(src, static_cast<BlockQ6_K*>(dst), n); }
}  // namespace

const TypeInfo kTypeQ6_K{TypeId::Q6_K, "q6_K", 256,      sizeof(BlockQ6_K), true,
                         to_float,     from_float, TypeId::Q8_K, quantize_q6_k};

}  // namespace qinfer
