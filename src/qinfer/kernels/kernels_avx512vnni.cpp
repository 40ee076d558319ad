// AVX-512 VNNI kernels for the block types: the 256-bit code of simd256.inc
// (32-element blocks, vpdpbusd: one instruction per u8×s8 dot of 4) and
// kquant256.inc (k-quants, vpdpwssd applies the sub-block scales), with the 32
// vector registers holding 8 tokens per tile. Zen 4 splits 512-bit integer ops
// into two 256-bit halves, so 256-bit VNNI loses nothing there.
#include <immintrin.h>

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

#define QINFER_SIMD_VNNI 1

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/simd256.inc"
#include "qinfer/kernels/kquant256.inc"
#include "qinfer/kernels/tile_driver.inc"

// Prefill tile for the signed 32-element types: 8 weight rows × C tokens with
// one row per int32 lane, as llama.cpp's repacked q4_0x8 gemm but without
// repacking. Each block's 8 decoded rows are transposed in registers once (so
// lane j holds row j's 4-byte group k), then per token 8 vpdpbusd against the
// broadcast activation groups give the 8 rows' exact block sums. The float
// work (cvt, scale, fma) is then once per 8 dot products instead of once per
// dot, and the per-dot lane sum disappears: out = Σ_blocks sum_int·(d_w·d_x),
// the scalar reference's order.
inline void transpose8x8_epi32(__m256i* v) {
  __m256i a[8], b[8];
  for (int i = 0; i < 8; i += 2) {
    a[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
    a[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
  }
  for (int i = 0; i < 8; i += 4)
    for (int j = 0; j < 2; ++j) {
      b[i + 2 * j] = _mm256_unpacklo_epi64(a[i + j], a[i + j + 2]);
      b[i + 2 * j + 1] = _mm256_unpackhi_epi64(a[i + j], a[i + j + 2]);
    }
  // b[k], k < 4: groups k (low lane) and k+4 (high lane) of rows 0-3; b[k+4]: rows 4-7.
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_permute2x128_si256(b[k], b[k + 4], 0x20);
    v[k + 4] = _mm256_permute2x128_si256(b[k], b[k + 4], 0x31);
  }
}

template <class D>
struct LaneTile {
  // Y[(t + c) * ldy + r + j] = dot(row r + j, token t + c) for j < 8, c < C.
  template <int C>
  static void run(int64_t n, const uint8_t* w, size_t ws, const uint8_t* const* x, float* Y, int64_t ldy) {
    using W = typename D::W;
    using X = typename D::X;
    const __m256i off = _mm256_set1_epi8(char(D::kOffset));
    __m256 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < n / 32; ++ib) {
      __m256i t[8];
      uint16_t dh[8];
      for (int i = 0; i < 8; ++i) {
        const W& b = reinterpret_cast<const W*>(w + size_t(i) * ws)[ib];
        t[i] = D::ucodes(b);
        dh[i] = b.d;
      }
      transpose8x8_epi32(t);
      const __m256 wd = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dh)));
      for (int c = 0; c < C; ++c) {
        const X& xb = reinterpret_cast<const X*>(x[c])[ib];
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
        // offset·Σy, the same for every row, broadcast to all lanes.
        __m256i corr = _mm256_dpbusd_epi32(_mm256_setzero_si256(), off, y);
        corr = _mm256_add_epi32(corr, _mm256_permute2x128_si256(corr, corr, 0x01));
        corr = _mm256_add_epi32(corr, _mm256_shuffle_epi32(corr, 0x4E));
        corr = _mm256_add_epi32(corr, _mm256_shuffle_epi32(corr, 0xB1));
        __m256i p = _mm256_sub_epi32(_mm256_setzero_si256(), corr);
        for (int k = 0; k < 8; ++k) {
          int32_t g;
          memcpy(&g, xb.qs + 4 * k, 4);
          p = _mm256_dpbusd_epi32(p, t[k], _mm256_set1_epi32(g));
        }
        const __m256 s = _mm256_mul_ps(wd, _mm256_set1_ps(h2f(xb.d)));
        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) _mm256_storeu_ps(Y + c * ldy, acc[c]);
  }
};

template <class D, int C, int K>
inline void lane_tail(int64_t left, int64_t n, const uint8_t* w, size_t ws, const uint8_t* const* x, float* Y,
                      int64_t ldy) {
  if constexpr (K >= 1) {
    if (left == K)
      LaneTile<D>::template run<K>(n, w, ws, x, Y, ldy);
    else
      lane_tail<D, C, K - 1>(left, n, w, ws, x, Y, ldy);
  }
}

// Prefill: blocks of kRowBlock rows (their weights stay in L2) × all tokens,
// C tokens at a time (their activations stay in L1) × 8 rows at a time.
// Decode (few tokens) keeps the 1×8 path: one sequential weight stream.
template <class D>
void matmul_lanes(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X, size_t xs,
                  int64_t n_tok, float* Y, int64_t ldy) {
  constexpr int C = 8;
  constexpr int64_t kRowBlock = 64;
  if (n_tok < 4) return matmul_tiled<QuantTile<D>, 1, 8>(n, W, ws, r0, r1, X, xs, n_tok, Y, ldy);
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(X);
  for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
    const int64_t re = rb + kRowBlock < r1 ? rb + kRowBlock : r1;
    const int64_t r8 = rb + (re - rb) / 8 * 8;
    for (int64_t t = 0; t < n_tok; t += C) {
      const uint8_t* xr[C];
      const int64_t nc = n_tok - t < C ? n_tok - t : C;
      for (int c = 0; c < nc; ++c) xr[c] = x + size_t(t + c) * xs;
      for (int64_t r = rb; r < r8; r += 8) {
        const uint8_t* wr = w + size_t(r) * ws;
        float* y = Y + t * ldy + r;
        if (nc == C)
          LaneTile<D>::template run<C>(n, wr, ws, xr, y, ldy);
        else
          lane_tail<D, C, C - 1>(nc, n, wr, ws, xr, y, ldy);
      }
    }
    if (r8 < re) matmul_tiled<QuantTile<D>, 1, 8>(n, W, ws, r8, re, X, xs, n_tok, Y, ldy);
  }
}

// 1 row × 8 tokens: one sequential weight stream (see set_q in
// kernels_avx2.cpp), and 8 tokens per decoded block for prefill (TinyLlama
// Q4_K pp64: 113 tokens/s vs 87 with 1×4, 73 with 4×4).
template <class Tile>
void set(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = vec_dot_tiled<Tile>;
  t.matmul[uint32_t(id)] = matmul_tiled<Tile, 1, 8>;
}

}  // namespace

void fill_table_avx512vnni(KernelTable& t) {
  set<QuantTile<DecQ4_0>>(t, TypeId::Q4_0);
  t.matmul[uint32_t(TypeId::Q4_0)] = matmul_lanes<DecQ4_0>;
  set<QuantTile<DecQ4_1>>(t, TypeId::Q4_1);
  set<QuantTile<DecQ5_0>>(t, TypeId::Q5_0);
  set<QuantTile<DecQ5_1>>(t, TypeId::Q5_1);
  set<QuantTile<DecQ8_0>>(t, TypeId::Q8_0);
  t.matmul[uint32_t(TypeId::Q8_0)] = matmul_lanes<DecQ8_0>;
  set<QuantTile<DecIQ4_NL>>(t, TypeId::IQ4_NL);
  set<KTile<KDecQ2_K>>(t, TypeId::Q2_K);
  set<KTile<KDecQ3_K>>(t, TypeId::Q3_K);
  set<KTile<KDecQ4_K>>(t, TypeId::Q4_K);
  set<KTile<KDecQ5_K>>(t, TypeId::Q5_K);
  set<KTile<KDecQ6_K>>(t, TypeId::Q6_K);
}

}  // namespace qinfer::kernels
