// AVX2 + FMA + F16C attention (compiled with -mavx2 -mfma -mf16c): 16 keys
// per step as two 8-lane vectors. Repeats the scalar reference's operations
// in its order (attention.h), so results are equal bit for bit.
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

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/attention_driver.inc"

constexpr size_t kScales = kKeyTile * 2;

// kernels::exp_approx on 8 lanes, the same operations in the same order.
inline __m256 exp8(__m256 x) {
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-86.0f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);  // NaN stays NaN, as std::min(x, 88)
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  const __m256 y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
  return _mm256_andnot_ps(tiny, y);
}

// [i] + [i+4], [i] + [i+2], [0] + [1]: the second half of the reference's halving tree.
inline float tree8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lanes j < nk of keys 8h..8h+7 (h = 0, 1).
inline __m256 lanes_below(int nk, int h) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nk - 8 * h), idx));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256 load_f16x8(const void* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
// Σ over groups of 4 of u8 × s8 -> 8 int32 lanes (pairs stay < 2^15: u8 codes ≤ 128).
inline __m256i dot_us(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Rows per register tile of the F16-V steps (Avx2Ops::kRowTile).
constexpr int kRows = 4;

// Chain l of qk_f16_dot for kRows rows and the 8 keys at k (k + 16·d is key
// element d): c[r] = fma-sum over d ≡ l (mod 16), d ascending; each K vector
// is loaded once for all the rows.
inline void chain_rows(const float* qf, int hd, const float* k, int l, __m256* c) {
  for (int r = 0; r < kRows; ++r) c[r] = _mm256_setzero_ps();
  for (int d = l; d < hd; d += 16) {
    const __m256 kv = _mm256_loadu_ps(k + 16 * size_t(d));
    for (int r = 0; r < kRows; ++r) c[r] = _mm256_fmadd_ps(kv, _mm256_set1_ps(qf[size_t(r) * hd + d]), c[r]);
  }
}

// u_l of qk_f16_dot's tree for kRows rows: (c_l + c_{l+8}) + (c_{l+4} + c_{l+12}).
inline void quad_rows(const float* qf, int hd, const float* k, int l, __m256* out) {
  __m256 a[kRows], b[kRows];
  chain_rows(qf, hd, k, l, out);
  chain_rows(qf, hd, k, l + 8, a);
  for (int r = 0; r < kRows; ++r) out[r] = _mm256_add_ps(out[r], a[r]);
  chain_rows(qf, hd, k, l + 4, a);
  chain_rows(qf, hd, k, l + 12, b);
  for (int r = 0; r < kRows; ++r) out[r] = _mm256_add_ps(out[r], _mm256_add_ps(a[r], b[r]));
}

// acc[d] += p_j · v_j[d] key by key, multiply then add, for the columns from d0 on of one row.
inline void mul_add_from(const float* p, int nk, float* acc, const float* vf, int hd, int d) {
  for (; d + 64 <= hd; d += 64) {
    __m256 a[8];
    for (int i = 0; i < 8; ++i) a[i] = _mm256_loadu_ps(acc + d + 8 * i);
    for (int j = 0; j < nk; ++j) {
      const __m256 pj = _mm256_set1_ps(p[j]);
      const float* vr = vf + size_t(j) * hd + d;
      for (int i = 0; i < 8; ++i) a[i] = _mm256_add_ps(a[i], _mm256_mul_ps(pj, _mm256_loadu_ps(vr + 8 * i)));
    }
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(acc + d + 8 * i, a[i]);
  }
  for (; d + 8 <= hd; d += 8) {
    __m256 a = _mm256_loadu_ps(acc + d);
    for (int j = 0; j < nk; ++j)
      a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(vf + size_t(j) * hd + d)));
    _mm256_storeu_ps(acc + d, a);
  }
  for (; d < hd; ++d)
    for (int j = 0; j < nk; ++j) acc[d] += p[j] * vf[size_t(j) * hd + d];
}

struct Avx2Ops {
  static void k_to_float(const uint8_t* tile, int hd, float* kf) {
    for (int i = 0; i < hd * kKeyTile; i += 8) _mm256_storeu_ps(kf + i, load_f16x8(tile + 2 * size_t(i)));
  }

  static void v_to_float(TypeId t, const uint8_t* row0, size_t rb, int n, int hd, float* vf) {
    for (int j = 0; j < n; ++j) {
      const uint8_t* row = row0 + size_t(j) * rb;
      float* out = vf + size_t(j) * hd;
      if (t == TypeId::F16) {
        int d = 0;
        for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(out + d, load_f16x8(row + 2 * size_t(d)));
        for (; d < hd; ++d) out[d] = _cvtsh_ss(reinterpret_cast<const uint16_t*>(row)[d]);
      } else if (t == TypeId::Q8_0) {
        const auto* b = reinterpret_cast<const BlockQ8_0*>(row);
        for (int k = 0; k < hd / 32; ++k) {
          const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[k].d));
          for (int i = 0; i < 32; i += 8) {
            const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[k].qs + i)));
            _mm256_storeu_ps(out + 32 * k + i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
          }
        }
      } else {
        const auto* b = reinterpret_cast<const BlockQ4_0*>(row);
        for (int k = 0; k < hd / 32; ++k) {
          const __m256 d = _mm256_set1_ps(_cvtsh_ss(b[k].d));
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k].qs));
          const __m128i lo = _mm_sub_epi8(_mm_and_si128(v, _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
          const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
          const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
          for (int i = 0; i < 4; ++i)
            _mm256_storeu_ps(out + 32 * k + 8 * i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[i]))));
        }
      }
    }
  }

  static void qk_f16(const float* qf, int hd, const float* kf, float* s) {
    __m256 c[4][2];
    for (auto& ci : c) ci[0] = ci[1] = _mm256_setzero_ps();
    int d = 0;
    for (; d + 4 <= hd; d += 4)
      for (int i = 0; i < 4; ++i) {
        const __m256 q = _mm256_set1_ps(qf[d + i]);
        const float* k = kf + size_t(d + i) * kKeyTile;
        c[i][0] = _mm256_fmadd_ps(q, _mm256_loadu_ps(k), c[i][0]);
        c[i][1] = _mm256_fmadd_ps(q, _mm256_loadu_ps(k + 8), c[i][1]);
      }
    for (int i = 0; d < hd; ++d, ++i) {
      const __m256 q = _mm256_set1_ps(qf[d]);
      const float* k = kf + size_t(d) * kKeyTile;
      c[i][0] = _mm256_fmadd_ps(q, _mm256_loadu_ps(k), c[i][0]);
      c[i][1] = _mm256_fmadd_ps(q, _mm256_loadu_ps(k + 8), c[i][1]);
    }
    for (int h = 0; h < 2; ++h)
      _mm256_storeu_ps(s + 8 * h, _mm256_add_ps(_mm256_add_ps(c[0][h], c[1][h]), _mm256_add_ps(c[2][h], c[3][h])));
  }

  static void qk_quant(TypeId t, const BlockQ8_0* q, const int32_t* qsum, int hd, const uint8_t* tile, float* s) {
    const size_t bb = kKeyTile * (t == TypeId::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int b = 0; b < hd / 32; ++b) {
      const uint8_t* tb = tile + size_t(b) * bb;
      int32_t g4[8];
      std::memcpy(g4, q[b].qs, 32);
      __m256i isum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
      if (t == TypeId::Q8_0) {
        for (int g = 0; g < 8; ++g) {
          const __m256i y = _mm256_set1_epi32(g4[g]);
          for (int h = 0; h < 2; ++h) {
            const __m256i k = load256(tb + kScales + size_t(g) * 64 + 32 * h);
            isum[h] = _mm256_add_epi32(isum[h], dot_us(_mm256_sign_epi8(k, k), _mm256_sign_epi8(y, k)));
          }
        }
      } else {
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        for (int g = 0; g < 4; ++g) {
          const __m256i ylo = _mm256_set1_epi32(g4[g]), yhi = _mm256_set1_epi32(g4[g + 4]);
          for (int h = 0; h < 2; ++h) {
            const __m256i v = load256(tb + kScales + size_t(g) * 64 + 32 * h);
            isum[h] = _mm256_add_epi32(isum[h], dot_us(_mm256_and_si256(v, m4), ylo));
            isum[h] = _mm256_add_epi32(isum[h], dot_us(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), yhi));
          }
        }
        const __m256i corr = _mm256_set1_epi32(8 * qsum[b]);
        for (auto& v : isum) v = _mm256_sub_epi32(v, corr);
      }
      const __m256 dq = _mm256_set1_ps(_cvtsh_ss(q[b].d));
      for (int h = 0; h < 2; ++h) {
        const __m256 dk = load_f16x8(tb + 16 * h);
        acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[h]), _mm256_mul_ps(dk, dq), acc[h]);
      }
    }
    _mm256_storeu_ps(s, acc[0]);
    _mm256_storeu_ps(s + 8, acc[1]);
  }

  static void update(float* s, int nk, float scale, float& m, float& l, float* acc, const float* vf, int hd) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 v[2];
    for (int h = 0; h < 2; ++h)
      v[h] = _mm256_blendv_ps(ninf, _mm256_mul_ps(_mm256_loadu_ps(s + 8 * h), _mm256_set1_ps(scale)), lanes_below(nk, h));
    const float mx = hmax8(_mm256_max_ps(v[0], v[1]));
    if (mx > m) {
      const float alpha = exp_approx(m - mx);
      l = l * alpha;
      const __m256 a = _mm256_set1_ps(alpha);
      int d = 0;
      for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(acc + d, _mm256_mul_ps(_mm256_loadu_ps(acc + d), a));
      for (; d < hd; ++d) acc[d] = acc[d] * alpha;
      m = mx;
    }
    const __m256 mm = _mm256_set1_ps(m);
    for (int h = 0; h < 2; ++h) {
      v[h] = _mm256_and_ps(exp8(_mm256_sub_ps(v[h], mm)), lanes_below(nk, h));
      _mm256_storeu_ps(s + 8 * h, v[h]);
    }
    l = l + tree8(_mm256_add_ps(v[0], v[1]));
    accumulate(s, nk, acc, vf, hd);
  }

  // acc += p_j · v_j, key by key, 8 columns (64 floats) at a time in registers.
  static void accumulate(const float* s, int nk, float* acc, const float* vf, int hd) {
    int d = 0;
    for (; d + 64 <= hd; d += 64) {
      __m256 a[8];
      for (int i = 0; i < 8; ++i) a[i] = _mm256_loadu_ps(acc + d + 8 * i);
      for (int j = 0; j < nk; ++j) {
        const __m256 p = _mm256_set1_ps(s[j]);
        const float* vr = vf + size_t(j) * hd + d;
        for (int i = 0; i < 8; ++i) a[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(vr + 8 * i), a[i]);
      }
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(acc + d + 8 * i, a[i]);
    }
    for (; d + 8 <= hd; d += 8) {
      __m256 a = _mm256_loadu_ps(acc + d);
      for (int j = 0; j < nk; ++j) a = _mm256_fmadd_ps(_mm256_set1_ps(s[j]), _mm256_loadu_ps(vf + size_t(j) * hd + d), a);
      _mm256_storeu_ps(acc + d, a);
    }
    for (; d < hd; ++d)
      for (int j = 0; j < nk; ++j) acc[d] = std::fma(s[j], vf[size_t(j) * hd + d], acc[d]);
  }

  // kernels::vec_dot's AVX2 F16 arithmetic (FloatTile in simd256.inc, which
  // repeats the AVX-512 tile's order) for 8 keys per pass, one vector lane per
  // key: chain c_l fma-sums d ≡ l (mod 16) in d order (a tail past hd adds
  // nothing to the other chains); then hsum16's tree (c_l + c_{l+8}, then + 4,
  // then [0]+[2], [1]+[3], then their sum). Sixteen live chains overflow the
  // 16 ymm registers, so they run eight at a time, grouped as the tree adds them.
  static void qk_f16_dot(const float* qf, int hd, const float* kf, float* s) {
    for (int h = 0; h < 2; ++h) {
      const float* k = kf + 8 * h;  // keys 8h..8h+7 of element d at k + 16·d
      __m256 u[4];
      tree_pair(qf, hd, k, 0, u);  // u0 = (c0 + c8) + (c4 + c12), u1 likewise from chain 1
      tree_pair(qf, hd, k, 2, u);  // u2, u3
      _mm256_storeu_ps(s + 8 * h, _mm256_add_ps(_mm256_add_ps(u[0], u[2]), _mm256_add_ps(u[1], u[3])));
    }
  }

  // u[l] and u[l+1] of the tree above: chains l, l+8, l+4, l+12 and l+1, ... at once.
  static void tree_pair(const float* qf, int hd, const float* k, int l, __m256* u) {
    const int off[8] = {l, l + 8, l + 4, l + 12, l + 1, l + 9, l + 5, l + 13};
    __m256 c[8];
    for (auto& ci : c) ci = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= hd; d += 16)
      for (int i = 0; i < 8; ++i)
        c[i] = _mm256_fmadd_ps(_mm256_loadu_ps(k + 16 * size_t(d + off[i])), _mm256_set1_ps(qf[d + off[i]]), c[i]);
    for (int i = 0; i < 8; ++i)
      if (d + off[i] < hd)
        c[i] = _mm256_fmadd_ps(_mm256_loadu_ps(k + 16 * size_t(d + off[i])), _mm256_set1_ps(qf[d + off[i]]), c[i]);
    u[l] = _mm256_add_ps(_mm256_add_ps(c[0], c[1]), _mm256_add_ps(c[2], c[3]));
    u[l + 1] = _mm256_add_ps(_mm256_add_ps(c[4], c[5]), _mm256_add_ps(c[6], c[7]));
  }

  // acc[d] += p_j · v_j[d] key by key, multiply then add (no fma), 64 columns in registers.
  static void mul_add(const float* p, int nk, float* acc, const float* vf, int hd) {
    mul_add_from(p, nk, acc, vf, hd, 0);
  }

  // The register-tiled forms of qk_f16_dot and mul_add (attention_driver.inc).
  static constexpr int kRowTile = kRows;

  // qk_f16_dot for kRows rows, 8 keys at a time: (u0 + u2) + (u1 + u3) per row.
  static void qk_f16_dot_rows(const float* qf, int hd, const float* kf, float scale, int nk, float* p, size_t ps) {
    for (int h = 0; h < 2 && 8 * h < nk; ++h) {
      const float* k = kf + 8 * h;
      __m256 e0[kRows], e1[kRows], t[kRows];
      quad_rows(qf, hd, k, 0, e0);
      quad_rows(qf, hd, k, 2, t);
      for (int r = 0; r < kRows; ++r) e0[r] = _mm256_add_ps(e0[r], t[r]);
      quad_rows(qf, hd, k, 1, e1);
      quad_rows(qf, hd, k, 3, t);
      const __m256i live = _mm256_castps_si256(lanes_below(nk, h));
      for (int r = 0; r < kRows; ++r) {
        const __m256 sum = _mm256_add_ps(e0[r], _mm256_add_ps(e1[r], t[r]));
        _mm256_maskstore_ps(p + size_t(r) * ps + 8 * h, live, _mm256_mul_ps(sum, _mm256_set1_ps(scale)));
      }
    }
  }

  // mul_add for kRows rows: 16 columns of each row in registers, each V vector loaded once for the rows.
  static void mul_add_rows(const float* p, size_t ps, int nk, float* acc, const float* vf, int hd) {
    int d = 0;
    for (; d + 16 <= hd; d += 16) {
      __m256 a[kRows][2];
      for (int r = 0; r < kRows; ++r)
        for (int i = 0; i < 2; ++i) a[r][i] = _mm256_loadu_ps(acc + size_t(r) * hd + d + 8 * i);
      for (int j = 0; j < nk; ++j) {
        const float* vr = vf + size_t(j) * hd + d;
        const __m256 v0 = _mm256_loadu_ps(vr), v1 = _mm256_loadu_ps(vr + 8);
        for (int r = 0; r < kRows; ++r) {
          const __m256 pj = _mm256_set1_ps(p[size_t(r) * ps + j]);
          a[r][0] = _mm256_add_ps(a[r][0], _mm256_mul_ps(pj, v0));
          a[r][1] = _mm256_add_ps(a[r][1], _mm256_mul_ps(pj, v1));
        }
      }
      for (int r = 0; r < kRows; ++r)
        for (int i = 0; i < 2; ++i) _mm256_storeu_ps(acc + size_t(r) * hd + d + 8 * i, a[r][i]);
    }
    if (d < hd)
      for (int r = 0; r < kRows; ++r) mul_add_from(p + size_t(r) * ps, nk, acc + size_t(r) * hd, vf, hd, d);
  }

  // The F16-V softmax (ScalarOps::softmax_f16's operations, 16 keys as two vectors).
  static void softmax_f16(float* p, int n) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vmx = ninf;
    for (int j = 0; j < n; j += 16)
      for (int h = 0; h < 2; ++h) {
        const __m256 live = lanes_below(n - j, h);
        vmx = _mm256_max_ps(vmx, _mm256_blendv_ps(ninf, _mm256_maskload_ps(p + j + 8 * h, _mm256_castps_si256(live)), live));
      }
    const __m256 mx = _mm256_set1_ps(hmax8(vmx));
    double sum = 0.0;
    for (int j = 0; j < n; j += 16) {
      __m256 e[2];
      for (int h = 0; h < 2; ++h) {
        const __m256i live = _mm256_castps_si256(lanes_below(n - j, h));
        e[h] = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(p + j + 8 * h, live), mx)), _mm256_castsi256_ps(live));
        _mm256_maskstore_ps(p + j + 8 * h, live, e[h]);
      }
      sum += double(tree8(_mm256_add_ps(e[0], e[1])));
    }
    const __m256 inv = _mm256_set1_ps(float(1.0 / sum));
    for (int j = 0; j < n; j += 8) {
      const __m256i live = _mm256_castps_si256(lanes_below(n - j, 0));
      const __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_maskload_ps(p + j, live), inv),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      _mm256_maskstore_ps(p + j, live, _mm256_cvtph_ps(h));
    }
  }

  static void finish(const float* acc, float l, int hd, float* out) {
    const float inv = 1.0f / l;
    const __m256 vi = _mm256_set1_ps(inv);
    int d = 0;
    for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_loadu_ps(acc + d), vi));
    for (; d < hd; ++d) out[d] = acc[d] * inv;
  }
};

void attention_avx2(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t bytes) {
  attention_run<Avx2Ops>(kv, rows, scratch, bytes);
}

}  // namespace

void fill_attention_avx2(KernelTable& t) { t.attention = attention_avx2; }

}  // namespace qinfer::kernels
