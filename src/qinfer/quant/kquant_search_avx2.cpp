// The k-quant scale searches of kquant_search.cpp for 8 sub-blocks at once,
// one per AVX2 lane (compiled with -mavx2; called only when the CPU has it).
// Each lane performs exactly the scalar code's operations in the same order
// (no contraction, IEEE division and square root, the same round-half-even
// trick, branches as per-lane blends), so results are bit-identical to 8
// scalar calls: quantized files stay byte-identical to llama-quantize's.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "qinfer/quant/kquant_search.h"

#pragma GCC optimize("fp-contract=off")

namespace qinfer::quant_detail {

namespace {

using V = __m256;
using I = __m256i;

inline V add(V a, V b) { return _mm256_add_ps(a, b); }
inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V div(V a, V b) { return _mm256_div_ps(a, b); }
inline V set1(float v) { return _mm256_set1_ps(v); }
inline V lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline V gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
inline V le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
inline V blend(V a, V b, V m) { return _mm256_blendv_ps(a, b, m); }  // m ? b : a
inline I blendi(I a, I b, V m) { return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), m)); }
inline V fabs(V a) { return _mm256_andnot_ps(set1(-0.0f), a); }

// nearest_int per lane: the 1.5·2^23 magic add, low 23 bits, minus 2^22.
inline I nearest(V v) {
  const I bits = _mm256_castps_si256(add(v, set1(12582912.f)));
  return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}
inline I clampi(I v, int lo, int hi) {
  return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}
inline V tof(I v) { return _mm256_cvtepi32_ps(v); }

// Lane j of column i of a [8][stride] matrix of floats (sub-block j, element i).
inline V column(const float* x, int stride, int i) {
  return _mm256_i32gather_ps(x + i, _mm256_setr_epi32(0, stride, 2 * stride, 3 * stride, 4 * stride, 5 * stride,
                                                      6 * stride, 7 * stride), 4);
}

}  // namespace

void make_qkx2_quants_x8(const float* x, const float* weights, int nmax, float rmin, float rdelta, int nstep,
                         uint8_t* L, float* scales, float* the_mins) {
  constexpr int n = 32;
  V xs[n], ws[n];
  for (int i = 0; i < n; ++i) {
    xs[i] = column(x, n, i);
    ws[i] = column(weights, n, i);
  }
  V mn = xs[0], mx = xs[0];
  V sum_w = ws[0];
  V sum_x = mul(sum_w, xs[0]);
  for (int i = 1; i < n; ++i) {
    mn = blend(mn, xs[i], lt(xs[i], mn));
    mx = blend(mx, xs[i], gt(xs[i], mx));
    sum_w = add(sum_w, ws[i]);
    sum_x = add(sum_x, mul(ws[i], xs[i]));
  }
  mn = blend(mn, set1(0.0f), gt(mn, set1(0.0f)));
  const V flat = le(mx, mn);  // lanes with max <= min: codes 0, scale 0
  const V range = sub(mx, mn);
  V iscale = div(set1(float(nmax)), range);
  V scale = div(set1(1.0f), iscale);
  I Lb[n];
  V best_mad = set1(0.0f);
  for (int i = 0; i < n; ++i) {
    Lb[i] = clampi(nearest(mul(iscale, sub(xs[i], mn))), 0, nmax);
    const V diff = sub(add(mul(scale, tof(Lb[i])), mn), xs[i]);
    best_mad = add(best_mad, mul(ws[i], mul(diff, diff)));
  }
  // As in ggml, a better candidate's min is used by the later candidates.
  V min = mn;
  if (nstep >= 1) {
    for (int is = 0; is <= nstep; ++is) {
      iscale = div(add(add(set1(rmin), set1(rdelta * float(is))), set1(float(nmax))), sub(mx, min));
      V sum_l = set1(0.0f), sum_l2 = set1(0.0f), sum_xl = set1(0.0f);
      I La[n];
      for (int i = 0; i < n; ++i) {
        La[i] = clampi(nearest(mul(iscale, sub(xs[i], min))), 0, nmax);
        const V l = tof(La[i]);
        sum_l = add(sum_l, mul(ws[i], l));
        sum_l2 = add(sum_l2, mul(mul(ws[i], l), l));
        sum_xl = add(sum_xl, mul(mul(ws[i], l), xs[i]));
      }
      const V D = sub(mul(sum_w, sum_l2), mul(sum_l, sum_l));
      const V ok = gt(D, set1(0.0f));
      V this_scale = div(sub(mul(sum_w, sum_xl), mul(sum_x, sum_l)), D);
      V this_min = div(sub(mul(sum_l2, sum_x), mul(sum_l, sum_xl)), D);
      const V pos = gt(this_min, set1(0.0f));
      this_min = blend(this_min, set1(0.0f), pos);
      this_scale = blend(this_scale, div(sum_xl, sum_l2), pos);
      V mad = set1(0.0f);
      for (int i = 0; i < n; ++i) {
        const V diff = sub(add(mul(this_scale, tof(La[i])), this_min), xs[i]);
        mad = add(mad, mul(ws[i], mul(diff, diff)));
      }
      const V better = _mm256_and_ps(ok, lt(mad, best_mad));
      for (int i = 0; i < n; ++i) Lb[i] = blendi(Lb[i], La[i], better);
      best_mad = blend(best_mad, mad, better);
      scale = blend(scale, this_scale, better);
      min = blend(min, this_min, better);
    }
  }
  // Flat lanes: codes 0, scale 0, the_min = −min (the clamped minimum).
  scale = blend(scale, set1(0.0f), flat);
  min = blend(min, mn, flat);
  _mm256_storeu_ps(scales, scale);
  _mm256_storeu_ps(the_mins, _mm256_xor_ps(min, set1(-0.0f)));  // −min, signed zero included
  alignas(32) int32_t lanes[8];
  for (int i = 0; i < n; ++i) {
    _mm256_store_si256(reinterpret_cast<I*>(lanes), blendi(Lb[i], _mm256_setzero_si256(), flat));
    for (int j = 0; j < 8; ++j) L[n * j + i] = uint8_t(lanes[j]);
  }
}

void make_qx_quants_x8_rmse1(const float* x, int nmax, int8_t* L, float* scales) {
  constexpr int n = 16;
  V xs[n], ws[n];
  for (int i = 0; i < n; ++i) {
    xs[i] = column(x, n, i);
    ws[i] = mul(xs[i], xs[i]);
  }
  V max = set1(0.0f), amax = set1(0.0f);
  for (int i = 0; i < n; ++i) {
    const V ax = fabs(xs[i]);
    const V m = gt(ax, amax);
    amax = blend(amax, ax, m);
    max = blend(max, xs[i], m);
  }
  const V zero_lane = lt(amax, set1(kGroupMaxEps));
  V iscale = div(set1(float(-nmax)), max);
  I Lb[n];
  V sumlx = set1(0.0f), suml2 = set1(0.0f);
  for (int i = 0; i < n; ++i) {
    const I l = clampi(nearest(mul(iscale, xs[i])), -nmax, nmax - 1);
    Lb[i] = _mm256_add_epi32(l, _mm256_set1_epi32(nmax));
    const V lf = tof(l);
    sumlx = add(sumlx, mul(mul(ws[i], xs[i]), lf));
    suml2 = add(suml2, mul(mul(ws[i], lf), lf));
  }
  V scale = blend(set1(0.0f), div(sumlx, suml2), _mm256_cmp_ps(suml2, set1(0.0f), _CMP_NEQ_OQ));
  V best = mul(scale, sumlx);
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = div(sub(set1(0.0f), add(set1(float(nmax)), mul(set1(0.1f), set1(float(is))))), max);
    V slx = set1(0.0f), sl2 = set1(0.0f);
    I La[n];
    for (int i = 0; i < n; ++i) {
      const I l = clampi(nearest(mul(iscale, xs[i])), -nmax, nmax - 1);
      La[i] = _mm256_add_epi32(l, _mm256_set1_epi32(nmax));
      const V lf = tof(l);
      slx = add(slx, mul(mul(ws[i], xs[i]), lf));
      sl2 = add(sl2, mul(mul(ws[i], lf), lf));
    }
    const V better = _mm256_and_ps(gt(sl2, set1(0.0f)), gt(mul(slx, slx), mul(best, sl2)));
    for (int i = 0; i < n; ++i) Lb[i] = blendi(Lb[i], La[i], better);
    const V s = div(slx, sl2);
    scale = blend(scale, s, better);
    best = blend(best, mul(s, slx), better);
  }
  scale = blend(scale, set1(0.0f), zero_lane);
  _mm256_storeu_ps(scales, scale);
  alignas(32) int32_t lanes[8];
  for (int i = 0; i < n; ++i) {
    _mm256_store_si256(reinterpret_cast<I*>(lanes), blendi(Lb[i], _mm256_setzero_si256(), zero_lane));
    for (int j = 0; j < 8; ++j) L[n * j + i] = int8_t(lanes[j]);
  }
}

}  // namespace qinfer::quant_detail
