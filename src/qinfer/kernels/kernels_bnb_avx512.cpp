// AVX-512 kernels of NF4/FP4 (one 16-entry permute is the whole code book)
// and INT8 (abs + masked negate + maddubs, exact int32 sums).
#include <immintrin.h>

#include "qinfer/kernels/kernels_bnb.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*(), which
// trips -W(maybe-)uninitialized at every use (GCC PR 105593); not our code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qinfer::kernels {
namespace {

// Codes of elements 16i .. 16i+15 of a block: byte k holds 2k (high) and 2k+1 (low).
inline __m512i codes16(const uint8_t* qs) {
  const __m512i b = _mm512_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs)));
  const __m512i dup = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), b);
  const __m512i sh = _mm512_srlv_epi32(dup, _mm512_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0));
  return _mm512_and_si512(sh, _mm512_set1_epi32(15));
}

template <const float* Book>
float bnb4_dot(int64_t n, const void* w, const void* x) {
  const auto* b = static_cast<const BlockBnb4*>(w);
  const auto* xf = static_cast<const float*>(x);
  const __m512 book = _mm512_loadu_ps(Book);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t ib = 0; ib < n / kQK_BNB4; ++ib, xf += kQK_BNB4) {
    __m512 s = _mm512_setzero_ps();
    for (int i = 0; i < kQK_BNB4 / 16; ++i)
      s = _mm512_fmadd_ps(_mm512_permutexvar_ps(codes16(b[ib].qs + 8 * i), book), _mm512_loadu_ps(xf + 16 * i), s);
    acc = _mm512_fmadd_ps(_mm512_set1_ps(b[ib].absmax), s, acc);
  }
  return _mm512_reduce_add_ps(acc);
}

int32_t int8_codes_dot(const int8_t* a, const int8_t* w, int64_t n) {
  __m512i acc = _mm512_setzero_si512();
  const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    const __m512i va = _mm512_loadu_si512(a + j), vw = _mm512_loadu_si512(w + j);
    const __mmask64 neg = _mm512_movepi8_mask(va);
    const __m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(va), _mm512_mask_sub_epi8(vw, neg, zero, vw));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, ones));
  }
  if (j < n) {  // rows are a multiple of 32: one masked half-vector left
    const __mmask64 m = (~uint64_t(0)) >> (64 - (n - j));
    const __m512i va = _mm512_maskz_loadu_epi8(m, a + j), vw = _mm512_maskz_loadu_epi8(m, w + j);
    const __mmask64 neg = _mm512_movepi8_mask(va);
    const __m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(va), _mm512_mask_sub_epi8(vw, neg, zero, vw));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, ones));
  }
  return _mm512_reduce_add_epi32(acc);
}

#include "qinfer/kernels/bnb_driver.inc"

}  // namespace

void fill_table_bnb_avx512(KernelTable& t) { fill_bnb_entries(t); }

}  // namespace qinfer::kernels
