// AVX-512 (F/BW/VL/DQ) attention: the 16 keys of a step in one vector, masks
// for the causal edge and head-dimension tails. Repeats the scalar reference's
// operations in its order (attention.h), so results are equal bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/kernels/attention.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q8_0.h"

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*() (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/attention_driver.inc"

constexpr size_t kScales = kKeyTile * 2;

// kernels::exp_approx on 16 lanes, the same operations in the same order.
inline __m512 exp16(__m512 x) {
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-86.0f), _CMP_LT_OQ);
  x = _mm512_min_ps(_mm512_set1_ps(88.0f), x);  // NaN stays NaN, as std::min(x, 88)
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
  p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
  const __m512i e = _mm512_slli_epi32(_mm512_cvtps_epi32(n), 23);
  const __m512 y = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), e));
  return _mm512_maskz_mov_ps(__mmask16(~tiny), y);
}

// The reference's halving tree: [i]+[i+8], [i]+[i+4], [i]+[i+2], [0]+[1].
inline float tree16(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax16(__m512 v) {
  const __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __mmask16 first(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }
inline __m512 load_f16x16(const void* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
// Σ over groups of 4 of u8 × s8 -> 16 int32 lanes (pairs stay < 2^15: u8 codes ≤ 128).
inline __m512i dot_us(__m512i u, __m512i s) {
  return _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1));
}

// acc[d0 + c] += p_j · v_j[d0 + c] for c < 16·NV (masked past hd), key by
// key: fused (one rounding) or multiply then add. NV is a constant so the
// accumulators stay in registers (a runtime count spilled them to the stack).
template <int NV, bool Fused>
inline void sum_pv_cols(const float* p, int nk, float* acc, const float* vf, int hd, int d0) {
  __mmask16 km[NV];
  __m512 a[NV];
  for (int i = 0; i < NV; ++i) {
    km[i] = first(hd - d0 - 16 * i);
    a[i] = _mm512_maskz_loadu_ps(km[i], acc + d0 + 16 * i);
  }
  for (int j = 0; j < nk; ++j) {
    const __m512 pj = _mm512_set1_ps(p[j]);
    const float* vr = vf + size_t(j) * hd + d0;
    for (int i = 0; i < NV; ++i) {
      const __m512 v = _mm512_maskz_loadu_ps(km[i], vr + 16 * i);
      a[i] = Fused ? _mm512_fmadd_ps(pj, v, a[i]) : _mm512_add_ps(a[i], _mm512_mul_ps(pj, v));
    }
  }
  for (int i = 0; i < NV; ++i) _mm512_mask_storeu_ps(acc + d0 + 16 * i, km[i], a[i]);
}

template <bool Fused>
inline void sum_pv(const float* p, int nk, float* acc, const float* vf, int hd) {
  for (int d = 0; d < hd; d += 128) {
    switch (std::min(8, (hd - d + 15) / 16)) {
      case 1: sum_pv_cols<1, Fused>(p, nk, acc, vf, hd, d); break;
      case 2: sum_pv_cols<2, Fused>(p, nk, acc, vf, hd, d); break;
      case 3: sum_pv_cols<3, Fused>(p, nk, acc, vf, hd, d); break;
      case 4: sum_pv_cols<4, Fused>(p, nk, acc, vf, hd, d); break;
      case 5: sum_pv_cols<5, Fused>(p, nk, acc, vf, hd, d); break;
      case 6: sum_pv_cols<6, Fused>(p, nk, acc, vf, hd, d); break;
      case 7: sum_pv_cols<7, Fused>(p, nk, acc, vf, hd, d); break;
      default: sum_pv_cols<8, Fused>(p, nk, acc, vf, hd, d); break;
    }
  }
}

// Rows per register tile of the F16-V steps (Avx512Ops::kRowTile).
constexpr int kRows = 4;

// Chain l of qk_f16_dot for kRows rows: c[r] = fma-sum over d ≡ l (mod 16),
// d ascending; each K vector is loaded once for all the rows.
inline void chain_rows(const float* qf, int hd, const float* kf, int l, __m512* c) {
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) c[r] = _mm512_setzero_ps();
  for (int d = l; d < hd; d += 16) {
    const __m512 k = _mm512_loadu_ps(kf + 16 * size_t(d));
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) c[r] = _mm512_fmadd_ps(k, _mm512_set1_ps(qf[size_t(r) * hd + d]), c[r]);
  }
}

// qk_f16_dot's tree restricted to chains l, l+8 (pair) and l, l+4, l+8, l+12
// (quad): ([l] + [l+8]) + ([l+4] + [l+12]), the first two levels of hsum16.
inline void pair_rows(const float* qf, int hd, const float* kf, int l, __m512* out) {
  __m512 t[kRows];
  chain_rows(qf, hd, kf, l, out);
  chain_rows(qf, hd, kf, l + 8, t);
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_add_ps(out[r], t[r]);
}
inline void quad_rows(const float* qf, int hd, const float* kf, int l, __m512* out) {
  __m512 t[kRows];
  pair_rows(qf, hd, kf, l, out);
  pair_rows(qf, hd, kf, l + 4, t);
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) out[r] = _mm512_add_ps(out[r], t[r]);
}

// acc_r[d0 + c] += p_r[j] · v_j[d0 + c] (multiply, then add) for kRows rows,
// c < 16·NV, key by key: mul_add's operations, each V vector loaded once.
template <int NV>
inline void mul_add_rows_cols(const float* p, size_t ps, int nk, float* acc, const float* vf, int hd, int d0) {
  __mmask16 km[NV];
  __m512 a[kRows][NV];
#pragma GCC unroll 4
  for (int i = 0; i < NV; ++i) km[i] = first(hd - d0 - 16 * i);
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < NV; ++i) a[r][i] = _mm512_maskz_loadu_ps(km[i], acc + size_t(r) * hd + d0 + 16 * i);
  for (int j = 0; j < nk; ++j) {
    __m512 v[NV];
    const float* vr = vf + size_t(j) * hd + d0;
#pragma GCC unroll 4
    for (int i = 0; i < NV; ++i) v[i] = _mm512_maskz_loadu_ps(km[i], vr + 16 * i);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m512 pj = _mm512_set1_ps(p[size_t(r) * ps + j]);
#pragma GCC unroll 4
      for (int i = 0; i < NV; ++i) a[r][i] = _mm512_add_ps(a[r][i], _mm512_mul_ps(pj, v[i]));
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < NV; ++i) _mm512_mask_storeu_ps(acc + size_t(r) * hd + d0 + 16 * i, km[i], a[r][i]);
}

struct Avx512Ops {
  static void k_to_float(const uint8_t* tile, int hd, float* kf) {
    for (int i = 0; i < hd * kKeyTile; i += 16) _mm512_storeu_ps(kf + i, load_f16x16(tile + 2 * size_t(i)));
  }

  static void v_to_float(TypeId t, const uint8_t* row0, size_t rb, int n, int hd, float* vf) {
    for (int j = 0; j < n; ++j) {
      const uint8_t* row = row0 + size_t(j) * rb;
      float* out = vf + size_t(j) * hd;
      if (t == TypeId::F16) {
        for (int d = 0; d < hd; d += 16) {
          const __mmask16 k = first(hd - d);
          _mm512_mask_storeu_ps(out + d, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, row + 2 * size_t(d))));
        }
      } else if (t == TypeId::Q8_0) {
        const auto* b = reinterpret_cast<const BlockQ8_0*>(row);
        for (int k = 0; k < hd / 32; ++k) {
          const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[k].d));
          for (int i = 0; i < 32; i += 16) {
            const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k].qs + i)));
            _mm512_storeu_ps(out + 32 * k + i, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q)));
          }
        }
      } else {
        const auto* b = reinterpret_cast<const BlockQ4_0*>(row);
        for (int k = 0; k < hd / 32; ++k) {
          const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[k].d));
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k].qs));
          const __m128i lo = _mm_sub_epi8(_mm_and_si128(v, _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
          const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
          _mm512_storeu_ps(out + 32 * k, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo))));
          _mm512_storeu_ps(out + 32 * k + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi))));
        }
      }
    }
  }

  static void qk_f16(const float* qf, int hd, const float* kf, float* s) {
    __m512 c[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int d = 0;
    for (; d + 4 <= hd; d += 4)
      for (int i = 0; i < 4; ++i)
        c[i] = _mm512_fmadd_ps(_mm512_set1_ps(qf[d + i]), _mm512_loadu_ps(kf + size_t(d + i) * kKeyTile), c[i]);
    for (int i = 0; d < hd; ++d, ++i)
      c[i] = _mm512_fmadd_ps(_mm512_set1_ps(qf[d]), _mm512_loadu_ps(kf + size_t(d) * kKeyTile), c[i]);
    _mm512_storeu_ps(s, _mm512_add_ps(_mm512_add_ps(c[0], c[1]), _mm512_add_ps(c[2], c[3])));
  }

  static void qk_quant(TypeId t, const BlockQ8_0* q, const int32_t* qsum, int hd, const uint8_t* tile, float* s) {
    const size_t bb = kKeyTile * (t == TypeId::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
    __m512 acc = _mm512_setzero_ps();
    for (int b = 0; b < hd / 32; ++b) {
      const uint8_t* tb = tile + size_t(b) * bb;
      int32_t g4[8];
      std::memcpy(g4, q[b].qs, 32);
      __m512i isum = _mm512_setzero_si512();
      if (t == TypeId::Q8_0) {
        for (int g = 0; g < 8; ++g) {
          const __m512i k = load512(tb + kScales + size_t(g) * 64);
          const __m512i y = _mm512_set1_epi32(g4[g]);
          // |k| · (y with k's sign): the s8 × s8 dot through u8 × s8.
          const __m512i ys = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(k), _mm512_setzero_si512(), y);
          isum = _mm512_add_epi32(isum, dot_us(_mm512_abs_epi8(k), ys));
        }
      } else {
        const __m512i m4 = _mm512_set1_epi8(0x0F);
        for (int g = 0; g < 4; ++g) {
          const __m512i v = load512(tb + kScales + size_t(g) * 64);
          isum = _mm512_add_epi32(isum, dot_us(_mm512_and_si512(v, m4), _mm512_set1_epi32(g4[g])));
          isum = _mm512_add_epi32(isum, dot_us(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), _mm512_set1_epi32(g4[g + 4])));
        }
        isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(8 * qsum[b]));
      }
      const __m512 scale = _mm512_mul_ps(load_f16x16(tb), _mm512_set1_ps(_cvtsh_ss(q[b].d)));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc);
    }
    _mm512_storeu_ps(s, acc);
  }

  static void update(float* s, int nk, float scale, float& m, float& l, float* acc, const float* vf, int hd) {
    const __mmask16 valid = first(nk);
    __m512 v = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, _mm512_mul_ps(_mm512_loadu_ps(s), _mm512_set1_ps(scale)));
    const float mx = hmax16(v);
    if (mx > m) {
      const float alpha = exp_approx(m - mx);
      l = l * alpha;
      const __m512 a = _mm512_set1_ps(alpha);
      for (int d = 0; d < hd; d += 16) {
        const __mmask16 k = first(hd - d);
        _mm512_mask_storeu_ps(acc + d, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, acc + d), a));
      }
      m = mx;
    }
    v = _mm512_maskz_mov_ps(valid, exp16(_mm512_sub_ps(v, _mm512_set1_ps(m))));
    _mm512_storeu_ps(s, v);
    l = l + tree16(v);
    accumulate(s, nk, acc, vf, hd);
  }

  // acc += p_j · v_j, key by key (fma), up to 128 columns at a time in registers.
  static void accumulate(const float* s, int nk, float* acc, const float* vf, int hd) {
    sum_pv<true>(s, nk, acc, vf, hd);
  }

  // kernels::vec_dot's AVX-512 F16 arithmetic (FloatTile512 in kernels_avx512.cpp)
  // for all 16 keys: chain c_l fma-sums d ≡ l (mod 16), one lane per key (the
  // masked tail adds nothing to the other chains); then hsum16's tree
  // (c_l + c_{l+8}, then + 4, then [0]+[2], [1]+[3], then their sum) as vector adds.
  static void qk_f16_dot(const float* qf, int hd, const float* kf, float* s) {
    __m512 c[16];
    for (auto& ci : c) ci = _mm512_setzero_ps();
    int d = 0;
    for (; d + 16 <= hd; d += 16)
      for (int l = 0; l < 16; ++l)
        c[l] = _mm512_fmadd_ps(_mm512_loadu_ps(kf + 16 * size_t(d + l)), _mm512_set1_ps(qf[d + l]), c[l]);
    for (int l = 0; d < hd; ++d, ++l)
      c[l] = _mm512_fmadd_ps(_mm512_loadu_ps(kf + 16 * size_t(d)), _mm512_set1_ps(qf[d]), c[l]);
    for (int l = 0; l < 8; ++l) c[l] = _mm512_add_ps(c[l], c[l + 8]);
    for (int l = 0; l < 4; ++l) c[l] = _mm512_add_ps(c[l], c[l + 4]);
    _mm512_storeu_ps(s, _mm512_add_ps(_mm512_add_ps(c[0], c[2]), _mm512_add_ps(c[1], c[3])));
  }

  // acc[d] += p_j · v_j[d] key by key, multiply then add (no fma), up to 128 columns in registers.
  static void mul_add(const float* p, int nk, float* acc, const float* vf, int hd) {
    sum_pv<false>(p, nk, acc, vf, hd);
  }

  // The register-tiled forms of qk_f16_dot and mul_add (attention_driver.inc).
  static constexpr int kRowTile = kRows;

  // qk_f16_dot for kRows rows, chain by chain so that few vectors are live:
  // (b0 + b2) + (b1 + b3) with b_l = ([l] + [l+8]) + ([l+4] + [l+12]), which
  // are hsum16's additions.
  static void qk_f16_dot_rows(const float* qf, int hd, const float* kf, float scale, int nk, float* p, size_t ps) {
    __m512 e0[kRows], e1[kRows], t[kRows];
    quad_rows(qf, hd, kf, 0, e0);
    quad_rows(qf, hd, kf, 2, t);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) e0[r] = _mm512_add_ps(e0[r], t[r]);
    quad_rows(qf, hd, kf, 1, e1);
    quad_rows(qf, hd, kf, 3, t);
    const __mmask16 valid = first(nk);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m512 s = _mm512_add_ps(e0[r], _mm512_add_ps(e1[r], t[r]));
      _mm512_mask_storeu_ps(p + size_t(r) * ps, valid, _mm512_mul_ps(s, _mm512_set1_ps(scale)));
    }
  }

  static void mul_add_rows(const float* p, size_t ps, int nk, float* acc, const float* vf, int hd) {
    for (int d = 0; d < hd; d += 64) {
      switch (std::min(4, (hd - d + 15) / 16)) {
        case 1: mul_add_rows_cols<1>(p, ps, nk, acc, vf, hd, d); break;
        case 2: mul_add_rows_cols<2>(p, ps, nk, acc, vf, hd, d); break;
        case 3: mul_add_rows_cols<3>(p, ps, nk, acc, vf, hd, d); break;
        default: mul_add_rows_cols<4>(p, ps, nk, acc, vf, hd, d); break;
      }
    }
  }

  // The F16-V softmax (ScalarOps::softmax_f16's operations, 16 keys per vector).
  static void softmax_f16(float* p, int n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 vmx = ninf;
    for (int j = 0; j < n; j += 16) vmx = _mm512_max_ps(vmx, _mm512_mask_loadu_ps(ninf, first(n - j), p + j));
    const __m512 mx = _mm512_set1_ps(hmax16(vmx));
    double sum = 0.0;
    for (int j = 0; j < n; j += 16) {
      const __mmask16 k = first(n - j);
      const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, p + j), mx)));
      _mm512_mask_storeu_ps(p + j, k, e);
      sum += double(tree16(e));
    }
    const __m512 inv = _mm512_set1_ps(float(1.0 / sum));
    for (int j = 0; j < n; j += 16) {
      const __mmask16 k = first(n - j);
      const __m256i h = _mm512_cvtps_ph(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + j), inv),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      _mm512_mask_storeu_ps(p + j, k, _mm512_cvtph_ps(h));
    }
  }

  static void finish(const float* acc, float l, int hd, float* out) {
    const __m512 inv = _mm512_set1_ps(1.0f / l);
    for (int d = 0; d < hd; d += 16) {
      const __mmask16 k = first(hd - d);
      _mm512_mask_storeu_ps(out + d, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, acc + d), inv));
    }
  }
};

void attention_avx512(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t bytes) {
  attention_run<Avx512Ops>(kv, rows, scratch, bytes);
}

}  // namespace

void fill_attention_avx512(KernelTable& t) { t.attention = attention_avx512; }

}  // namespace qinfer::kernels
