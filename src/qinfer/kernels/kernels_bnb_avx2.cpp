// AVX2 + FMA kernels of NF4/FP4 (16-entry code book looked up with two
// 8-lane permutes) and INT8 (sign trick + maddubs, exact int32 sums).
#include <immintrin.h>

#include "qinfer/kernels/kernels_bnb.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"

namespace qinfer::kernels {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Codes of elements 8i .. 8i+7 of a block: byte k holds 2k (high) and 2k+1 (low).
inline __m256i codes8(const uint8_t* qs) {
  int32_t four;
  std::memcpy(&four, qs, 4);
  const __m256i b = _mm256_cvtepu8_epi32(_mm_cvtsi32_si128(four));
  const __m256i dup = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
  const __m256i sh = _mm256_srlv_epi32(dup, _mm256_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0));
  return _mm256_and_si256(sh, _mm256_set1_epi32(15));
}

template <const float* Book>
float bnb4_dot(int64_t n, const void* w, const void* x) {
  const auto* b = static_cast<const BlockBnb4*>(w);
  const auto* xf = static_cast<const float*>(x);
  const __m256 lo = _mm256_loadu_ps(Book), hi = _mm256_loadu_ps(Book + 8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n / kQK_BNB4; ++ib, xf += kQK_BNB4) {
    __m256 s = _mm256_setzero_ps();
    for (int i = 0; i < kQK_BNB4 / 8; ++i) {
      const __m256i idx = codes8(b[ib].qs + 4 * i);
      const __m256 vlo = _mm256_permutevar8x32_ps(lo, idx), vhi = _mm256_permutevar8x32_ps(hi, idx);
      const __m256 v = _mm256_blendv_ps(vlo, vhi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
      s = _mm256_fmadd_ps(v, _mm256_loadu_ps(xf + 8 * i), s);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(b[ib].absmax), s, acc);
  }
  return hsum(acc);
}

int32_t int8_codes_dot(const int8_t* a, const int8_t* w, int64_t n) {
  __m256i acc = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t j = 0; j < n; j += 32) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + j));
    const __m256i vw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + j));
    // |a| · (w with a's sign): codes are within ±127, so pair sums fit int16.
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vw, va));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

#include "qinfer/kernels/bnb_driver.inc"

}  // namespace

void fill_table_bnb_avx2(KernelTable& t) { fill_bnb_entries(t); }

}  // namespace qinfer::kernels
