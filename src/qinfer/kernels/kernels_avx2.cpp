// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c -mbmi2; only
// called when the CPU has them). Everything here has internal linkage so no
// AVX2 code can be picked by the linker for another ISA's inline function.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/kernel_table.h"
#include "qinfer/quant/iq4_nl.h"
#include "qinfer/quant/q2_k.h"
#include "qinfer/quant/q3_k.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q4_1.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_0.h"
#include "qinfer/quant/q5_1.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/q6_k.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_1.h"
#include "qinfer/quant/q8_k.h"

#define QINFER_SIMD_VNNI 0

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/simd256.inc"
#include "qinfer/kernels/kquant256.inc"
#include "qinfer/kernels/tile_driver.inc"

// ggml's x86 activation quantizer (quantize_row_q8_0 / q8_1 under __AVX2__):
// d = amax/127, q = round-half-even(x · 127/amax), packs saturate. Bit-identical
// to quantize_row_q8_{0,1}_x86 in quant/.
template <bool kSum>
inline void q8_block(const float* x, uint16_t* d_out, uint16_t* s_out, int8_t* qs) {
  __m256 v[4];
  for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_andnot_ps(sign, v[0]);
  for (int k = 1; k < 4; ++k) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
  __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  const float d = amax / 127.f;
  *d_out = uint16_t(_cvtss_sh(d, 0));
  const __m256 mul = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
  __m256i q[4];
  for (int k = 0; k < 4; ++k)
    q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if constexpr (kSum) {
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    *s_out = uint16_t(_cvtss_sh(d * float(_mm_cvtsi128_si32(s4)), 0));
  }
  __m256i p01 = _mm256_packs_epi32(q[0], q[1]);  // lanes interleave; fixed by the permute below
  __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
  __m256i p = _mm256_packs_epi16(p01, p23);
  p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), p);
}

void cvt_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / 32; ++i) q8_block<false>(x + 32 * i, &y[i].d, nullptr, y[i].qs);
}
void cvt_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / 32; ++i) q8_block<true>(x + 32 * i, &y[i].d, &y[i].s, y[i].qs);
}
// Q8_K activations, bit-identical to quantize_row_q8_k_ref (what ggml uses on
// x86): the value of largest magnitude (the first on ties) gives iscale =
// −127/max; q = min(127, round-half-even(iscale·x)), one product each, no FMA.
void cvt_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 32; ++k) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)), m);
    __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    if (amax == 0.0f) {
      memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    int j = 0;
    for (int k = 0; k < 32; ++k) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k));
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(amax), _CMP_EQ_OQ));
      if (hit) {
        j = 8 * k + __builtin_ctz(unsigned(hit));
        break;
      }
    }
    const float iscale = -127.f / x[j];
    const __m256 vs = _mm256_set1_ps(iscale);
    for (int g = 0; g < 8; ++g) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k)
        q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * g + 8 * k), vs)),
                                _mm256_set1_epi32(127));
      __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + 32 * g), p);
      // Σ of each 16 codes: byte pairs, then pairs of pairs, then a horizontal add per lane.
      const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), p), _mm256_set1_epi16(1));
      const __m256i s8 = _mm256_hadd_epi32(s4, s4);
      const __m256i s16 = _mm256_hadd_epi32(s8, s8);
      y[i].bsums[2 * g] = int16_t(_mm256_cvtsi256_si32(s16));
      y[i].bsums[2 * g + 1] = int16_t(_mm256_extract_epi32(s16, 4));
    }
    y[i].d = 1 / iscale;
  }
}

void cvt_f16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = uint16_t(_cvtss_sh(x[i], 0));
}

// Float types: 2 rows × 2 tokens: 8 accumulators (two halves each) + 4 loaded
// half-rows fit the 16 ymm registers.
template <class Tile>
void set(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = vec_dot_tiled<Tile>;
  t.matmul[uint32_t(id)] = matmul_tiled<Tile, 2, 2>;
}

// Block types: 1 row × 4 tokens. One row at a time keeps the weights one
// sequential stream; with several short rows (1-2 KB) interleaved, the
// hardware prefetcher loses track when they come from DRAM, as in decode
// (TinyLlama Q6_K decode: ~8 tokens/s with 4 rows per tile vs ~30 with 1, at
// 2 threads; bench matmul_dram shows it). 4 integer/float accumulators + the
// decoded block fit the 16 registers.
template <class Tile>
void set_q(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = vec_dot_tiled<Tile>;
  t.matmul[uint32_t(id)] = matmul_tiled<Tile, 1, 4>;
}

}  // namespace

void fill_table_avx2(KernelTable& t) {
  set<FloatTile<LdF32>>(t, TypeId::F32);
  set<FloatTile<LdF16>>(t, TypeId::F16);
  set<FloatTile<LdBF16>>(t, TypeId::BF16);
  set_q<QuantTile<DecQ4_0>>(t, TypeId::Q4_0);
  set_q<QuantTile<DecQ4_1>>(t, TypeId::Q4_1);
  set_q<QuantTile<DecQ5_0>>(t, TypeId::Q5_0);
  set_q<QuantTile<DecQ5_1>>(t, TypeId::Q5_1);
  set_q<QuantTile<DecQ8_0>>(t, TypeId::Q8_0);
  set_q<QuantTile<DecIQ4_NL>>(t, TypeId::IQ4_NL);
  set_q<KTile<KDecQ2_K>>(t, TypeId::Q2_K);
  set_q<KTile<KDecQ3_K>>(t, TypeId::Q3_K);
  set_q<KTile<KDecQ4_K>>(t, TypeId::Q4_K);
  set_q<KTile<KDecQ5_K>>(t, TypeId::Q5_K);
  set_q<KTile<KDecQ6_K>>(t, TypeId::Q6_K);
  t.convert[uint32_t(TypeId::Q8_0)] = cvt_q8_0;
  t.convert[uint32_t(TypeId::Q8_1)] = cvt_q8_1;
  t.convert[uint32_t(TypeId::F16)] = cvt_f16;
  t.convert[uint32_t(TypeId::Q8_K)] = cvt_q8_k;
}

}  // namespace qinfer::kernels
