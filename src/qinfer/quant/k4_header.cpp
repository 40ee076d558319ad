#include "qinfer/quant/k4_header.h"

#include <cmath>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/kquant_search.h"
#include "qinfer/quant/q4_k.h"

// Rounded operation by operation like ggml-base (no FMA): see kquant_search.cpp.
#pragma GCC optimize("fp-contract=off")

namespace qinfer::quant_detail {

void search_k4_header(const float* x, int nmax, float rmin, int nstep, uint8_t* L, K4Header out) {
  uint8_t Laux[32];
  float weights[256], mins[8], scales[8];
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[32 * j + l] = av_x + std::fabs(x[32 * j + l]);
  }
  // The 8 sub-block searches are independent: one per SIMD lane when possible.
  if (kquant_x8_available()) {
    make_qkx2_quants_x8(x, weights, nmax, rmin, 0.1f, nstep, L, scales, mins);
  } else {
    for (int j = 0; j < 8; ++j)
      scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights + 32 * j, L + 32 * j, &mins[j], Laux, rmin, 0.1f,
                                   nstep, false);
  }
  float max_scale = 0, max_min = 0;  // mins are subtracted, so scales are positive
  for (int j = 0; j < 8; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = uint8_t(nearest_int(inv_scale * scales[j]));
    const uint8_t lm = uint8_t(nearest_int(inv_min * mins[j]));
    pack_scale_min_k4(j, out.scales, ls < 63 ? ls : 63, lm < 63 ? lm : 63);
  }
  out.d = f32_to_fp16(max_scale / 63.f);
  out.dmin = f32_to_fp16(max_min / 63.f);
}

void search_k4_header_weighted(const float* x, const float* qw, int nmax, uint8_t* L, K4Header out) {
  uint8_t Laux[32], Ls[8], Lm[8];
  float weights[32], sw[8], mins[8], scales[8];
  float sum_x2 = 0;
  for (int l = 0; l < 256; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / 256;
  for (int j = 0; j < 8; ++j) {
    for (int l = 0; l < 32; ++l) weights[l] = qw[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(8, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(8, 63, mins, Lm, sw);
  for (int j = 0; j < 8; ++j) pack_scale_min_k4(j, out.scales, Ls[j] < 63 ? Ls[j] : 63, Lm[j] < 63 ? Lm[j] : 63);
  out.d = f32_to_fp16(d_block);
  out.dmin = f32_to_fp16(m_block);
}

}  // namespace qinfer::quant_detail
