// AVX-512 (F/BW/VL/DQ) kernels for the float weight types: 16 lanes, masked
// loads for the tail, 4 rows × 6 tokens per tile in the 32 zmm registers.
// Block types stay on the AVX2 code unless kernels_avx512vnni.cpp replaces them.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/kernel_table.h"

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*(), which
// trips -W(maybe-)uninitialized at every use (GCC PR 105593); not our code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/tile_driver.inc"

#include "qinfer/kernels/hsum512.inc"

struct L512F32 {
  using T = float;
  static __m512 load(const T* p) { return _mm512_loadu_ps(p); }
  static __m512 load_tail(const T* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct L512F16 {
  using T = uint16_t;
  static __m512 load(const T* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load_tail(const T* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct L512BF16 {
  using T = uint16_t;
  static __m512 widen(__m256i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)); }
  static __m512 load(const T* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load_tail(const T* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

// FMA into one float accumulator per output, whatever the tile shape, so a
// (row, token) result is the same in every tile and tail (batch invariance,
// tests/test_kernels_batch_invariance.cpp); the 4×6 tiles keep 24 chains in flight.
template <class L>
struct FloatTile512 {
  static constexpr bool kTokenMajor = true;
  template <int R, int C>
  static void run(int64_t n, const uint8_t* const* w, const uint8_t* const* x, float* out) {
    using T = typename L::T;
    constexpr int64_t kLine = 64 / int64_t(sizeof(T));  // elements per cache line
    __m512 acc[R][C];
    for (int i = 0; i < R; ++i)
      for (int c = 0; c < C; ++c) acc[i][c] = _mm512_setzero_ps();
    const T* wp[R];
    const T* xp[C];
    for (int i = 0; i < R; ++i) wp[i] = reinterpret_cast<const T*>(w[i]);
    for (int c = 0; c < C; ++c) xp[c] = reinterpret_cast<const T*>(x[c]);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
      __m512 wv[R];
      // Decode: each row's cache lines requested 512 bytes ahead (F16 from a
      // 64 MiB matrix, bench matmul_dram tok=1, A/B interleaved on a loaded
      // machine: 0 to +25 %, median about +10 %; 1 KiB ahead gained nothing).
      if constexpr (C == 1)
        if (k % kLine == 0)
          for (int i = 0; i < R; ++i) _mm_prefetch(reinterpret_cast<const char*>(wp[i] + k) + 512, _MM_HINT_T0);
      for (int i = 0; i < R; ++i) wv[i] = L::load(wp[i] + k);
      for (int c = 0; c < C; ++c) {
        const __m512 xv = L::load(xp[c] + k);
        for (int i = 0; i < R; ++i) acc[i][c] = _mm512_fmadd_ps(wv[i], xv, acc[i][c]);
      }
    }
    if (k < n) {
      const __mmask16 m = __mmask16((1u << (n - k)) - 1);
      __m512 wv[R];
      for (int i = 0; i < R; ++i) wv[i] = L::load_tail(wp[i] + k, m);
      for (int c = 0; c < C; ++c) {
        const __m512 xv = L::load_tail(xp[c] + k, m);
        for (int i = 0; i < R; ++i) acc[i][c] = _mm512_fmadd_ps(wv[i], xv, acc[i][c]);
      }
    }
    hsum_tile<R, C>(acc, out);
  }
};

// 4 × 6 tiles (24 accumulators, 4 weight and 1 activation register) in blocks
// of 32 rows: single-thread 2048 × {2048, 5632} F16 against 512 tokens (bench
// matmul_prefill) 160-170 GFLOP/s, as 3 × 8 in 48-row blocks within the noise,
// against 153 for 4 × 4 tiles in 64-row blocks and 147 for 4 × 4 tiles over
// the whole row range. The 4-row tiles end with hsum16x4.
template <class Tile>
void set(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = vec_dot_tiled<Tile>;
  t.matmul[uint32_t(id)] = matmul_float_tiles<Tile, 4, 6, 32, 8>;
}

}  // namespace

void fill_table_avx512(KernelTable& t) {
  set<FloatTile512<L512F32>>(t, TypeId::F32);
  set<FloatTile512<L512F16>>(t, TypeId::F16);
  set<FloatTile512<L512BF16>>(t, TypeId::BF16);
}

}  // namespace qinfer::kernels
