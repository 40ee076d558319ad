// AVX-512 BF16 (vdpbf16ps) kernel for BF16 weights, whose activations are BF16
// too (the type's vec_dot_type, as ggml's): one instruction multiplies 32
// pairs and adds them into 16 float lanes, twice the FP32 FMA's work, which
// is what prefill is bound by. Each product of two bf16 values is exact in
// float; vdpbf16ps adds the two of a lane in turn (round to nearest even,
// denormal inputs and results flushed to zero), so a result differs from the
// scalar double-accumulating reference only by float rounding of the sums.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/kernel_table.h"

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*() (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/hsum512.inc"
#include "qinfer/kernels/tile_driver.inc"

// One float accumulator (16 lanes, each over element pairs 2l, 2l+1 of every
// 32) per output, whatever the tile shape: a (row, token) result is the same
// bits in every tile and tail, so decode and prefill agree (batch invariance).
struct Bf16DotTile {
  template <int R, int C>
  static void run(int64_t n, const uint8_t* const* w, const uint8_t* const* x, float* out) {
    __m512 acc[R][C];
    for (int i = 0; i < R; ++i)
      for (int c = 0; c < C; ++c) acc[i][c] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= n; k += 32) {
      __m512bh wv[R];
      for (int i = 0; i < R; ++i) wv[i] = __m512bh(_mm512_loadu_si512(w[i] + 2 * k));
      for (int c = 0; c < C; ++c) {
        const __m512bh xv = __m512bh(_mm512_loadu_si512(x[c] + 2 * k));
        for (int i = 0; i < R; ++i) acc[i][c] = _mm512_dpbf16_ps(acc[i][c], wv[i], xv);
      }
    }
    if (k < n) {  // zeros past the row's end add nothing
      const __mmask32 m = __mmask32((uint64_t(1) << (n - k)) - 1);
      __m512bh wv[R];
      for (int i = 0; i < R; ++i) wv[i] = __m512bh(_mm512_maskz_loadu_epi16(m, w[i] + 2 * k));
      for (int c = 0; c < C; ++c) {
        const __m512bh xv = __m512bh(_mm512_maskz_loadu_epi16(m, x[c] + 2 * k));
        for (int i = 0; i < R; ++i) acc[i][c] = _mm512_dpbf16_ps(acc[i][c], wv[i], xv);
      }
    }
    for (int i = 0; i < R; ++i)
      for (int c = 0; c < C; ++c) out[i * C + c] = hsum16(acc[i][c]);
  }
};

}  // namespace

// 4 × 6 tiles in blocks of 32 rows: single-thread 2048 × {2048, 5632} against
// 512 tokens (bench matmul_prefill) about 250 GFLOP/s, against 220-235 for 3 × 8
// in 48-row blocks and 165 for the F32-FMA tile this replaces.
void fill_table_avx512bf16(KernelTable& t) {
  t.vec_dot[uint32_t(TypeId::BF16)] = vec_dot_tiled<Bf16DotTile>;
  t.matmul[uint32_t(TypeId::BF16)] = matmul_float_tiles<Bf16DotTile, 4, 6, 32, 8>;
}

}  // namespace qinfer::kernels
