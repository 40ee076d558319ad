// AVX-512 VNNI kernels for the block types: the 256-bit code of simd256.inc
// (32-element blocks, vpdpbusd: one instruction per u8×s8 dot of 4) and
// kquant256.inc (k-quants, vpdpwssd applies the sub-block scales), with the 32
// vector registers holding 8 tokens per tile. Zen 4 splits 512-bit integer ops
// into two 256-bit halves, so 256-bit VNNI loses nothing there.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/packed_iq4_nlx16.h"
#include "qinfer/kernels/packed_q4_0x16.h"
#include "qinfer/kernels/packed_q5_0x16.h"
#include "qinfer/kernels/packed_q8_0x16.h"
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

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*(), which
// trips -W(maybe-)uninitialized at every use (GCC PR 105593); not our code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/simd256.inc"
#include "qinfer/kernels/kquant256.inc"
#include "qinfer/kernels/tile_driver.inc"

// Prefill tile for Q4_0 (fits any signed 32-element type): 8 weight rows × C tokens with
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

// t[k] lane j = the unsigned codes of group k (elements 4k..4k+3) of row j.
// Always inlined: out of line (GCC's choice), the 8 results went through the
// stack and every call cost a vzeroupper, twice per block of the batched
// decode's 16-row groups.
template <class D>
[[gnu::always_inline]] inline void load_transposed(const uint8_t* w, size_t ws, int64_t ib, __m256i* t) {
  using W = typename D::W;
  if constexpr (std::is_same_v<D, DecQ4_0>) {
    // Transpose the packed nibbles first (4 dwords a row: dword k holds groups
    // k and k+4), then unpack: a third of the shuffles of unpack-then-transpose.
    __m256i v[4], a[4];
    for (int i = 0; i < 4; ++i) {
      const W& lo = reinterpret_cast<const W*>(w + size_t(i) * ws)[ib];
      const W& hi = reinterpret_cast<const W*>(w + size_t(i + 4) * ws)[ib];
      v[i] = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(hi.qs), reinterpret_cast<const __m128i*>(lo.qs));
    }
    a[0] = _mm256_unpacklo_epi32(v[0], v[1]);
    a[1] = _mm256_unpackhi_epi32(v[0], v[1]);
    a[2] = _mm256_unpacklo_epi32(v[2], v[3]);
    a[3] = _mm256_unpackhi_epi32(v[2], v[3]);
    const __m256i m = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 2; ++j) {
      const __m256i g0 = _mm256_unpacklo_epi64(a[j], a[j + 2]);  // dword 2j of rows 0-3 | 4-7
      const __m256i g1 = _mm256_unpackhi_epi64(a[j], a[j + 2]);  // dword 2j+1
      t[2 * j] = _mm256_and_si256(g0, m);
      t[2 * j + 4] = _mm256_and_si256(_mm256_srli_epi16(g0, 4), m);
      t[2 * j + 1] = _mm256_and_si256(g1, m);
      t[2 * j + 5] = _mm256_and_si256(_mm256_srli_epi16(g1, 4), m);
    }
  } else {
    for (int i = 0; i < 8; ++i) t[i] = D::ucodes(reinterpret_cast<const W*>(w + size_t(i) * ws)[ib]);
    transpose8x8_epi32(t);
  }
}

// Lane c = the sum of the 8 lanes of v[c].
inline __m256i hsum8x8(const __m256i* v) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// The sum of the 8 int32 lanes of v.
inline int32_t hsum_epi32(__m256i v) {
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
  return _mm_cvtsi128_si32(s4);
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
      for (int i = 0; i < 8; ++i) dh[i] = reinterpret_cast<const W*>(w + size_t(i) * ws)[ib].d;
      load_transposed<D>(w, ws, ib, t);
      const __m256 wd = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dh)));
      // Per token: -offset·Σy (lane c, via one add tree for all C tokens) and d_x.
      alignas(32) int32_t ncorr[8];
      alignas(32) float xd[8];
      {
        __m256i s[8];
        uint16_t xh[8] = {};
        for (int c = 0; c < 8; ++c) s[c] = _mm256_setzero_si256();
        for (int c = 0; c < C; ++c) {
          const X& xb = reinterpret_cast<const X*>(x[c])[ib];
          s[c] = _mm256_dpbusd_epi32(s[c], off, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs)));
          xh[c] = xb.d;
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(ncorr), _mm256_sub_epi32(_mm256_setzero_si256(), hsum8x8(s)));
        _mm256_store_ps(xd, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xh))));
      }
      // Groups outer, tokens inner: C independent vpdpbusd chains in flight.
      __m256i p[C];
      for (int c = 0; c < C; ++c) p[c] = _mm256_set1_epi32(ncorr[c]);
      for (int k = 0; k < 8; ++k)
        for (int c = 0; c < C; ++c) {
          int32_t g;
          memcpy(&g, reinterpret_cast<const X*>(x[c])[ib].qs + 4 * k, 4);
          p[c] = _mm256_dpbusd_epi32(p[c], t[k], _mm256_set1_epi32(g));
        }
      for (int c = 0; c < C; ++c)
        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p[c]), _mm256_mul_ps(wd, _mm256_set1_ps(xd[c])), acc[c]);
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

// One row × C tokens in the lane tile's arithmetic (exact integer block sum,
// then acc = fma(float(sum), d_w·d_x, acc) block by block), for the rows left
// over after the 8-row groups: a row's result must not depend on whether it
// fell in a group (batch invariance).
template <class D, int C>
void lane_row(int64_t n, const uint8_t* w, const uint8_t* const* x, float* Y, int64_t ldy) {
  using W = typename D::W;
  using X = typename D::X;
  const __m256i off = _mm256_set1_epi8(char(D::kOffset));
  float acc[C];
  for (int c = 0; c < C; ++c) acc[c] = 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib) {
    const W& b = reinterpret_cast<const W*>(w)[ib];
    const __m256i u = D::ucodes(b);
    const float wd = h2f(b.d);
    for (int c = 0; c < C; ++c) {
      const X& xb = reinterpret_cast<const X*>(x[c])[ib];
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
      const __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, y),
                                         _mm256_dpbusd_epi32(_mm256_setzero_si256(), off, y));
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
      s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
      acc[c] = std::fma(float(_mm_cvtsi128_si32(s4)), wd * h2f(xb.d), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) Y[c * ldy] = acc[c];
}

template <class D, int K>
inline void lane_row_tail(int64_t left, int64_t n, const uint8_t* w, const uint8_t* const* x, float* Y, int64_t ldy) {
  if constexpr (K >= 1) {
    if (left == K)
      lane_row<D, K>(n, w, x, Y, ldy);
    else
      lane_row_tail<D, K - 1>(left, n, w, x, Y, ldy);
  }
}

// Decode entry of the other block types: the 1×8 path, kept out of line so
// the prefill drivers do not change its code.
template <class D>
[[gnu::noinline]] void matmul_decode(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X,
                                     size_t xs, int64_t n_tok, float* Y, int64_t ldy) {
  matmul_tiled<QuantTile<D>, 1, 8>(n, W, ws, r0, r1, X, xs, n_tok, Y, ldy);
}

// The lane tile for long batches, with its per-block set-up hoisted out of the
// token loop and 16 rows per 512-bit register: each 64-row block's 16-row
// groups are transposed once into a scratch on the stack (codes as the lane tile
// holds them, two 8-row groups side by side; scales as float), and each
// 8-token chunk's offset corrections and scales once per row block, so the
// inner loop is one broadcast and one vpdpbusd per 4 elements × 16 rows and
// the float fold. Each lane's integers and float operations are the lane
// tile's, in its order: the results are bitwise those of LaneTile (batch
// invariance), whichever path a row or token takes.
struct LanePacked16 {
  __m512i codes[8];  // lane j = group k of row j (rows 0-7 low half, 8-15 high), unsigned codes
  __m512 wd;         // lane j = row j's scale
};
struct LaneTokenBlock {
  int32_t ncorr[8];  // token c: -offset·Σy over the block
  float xd[8];       // token c: the block's scale
};

template <class D>
void pack_lane16(int64_t nb, const uint8_t* w, size_t ws, LanePacked16* out) {
  using W = typename D::W;
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint16_t dh[16];
    for (int i = 0; i < 16; ++i) dh[i] = reinterpret_cast<const W*>(w + size_t(i) * ws)[ib].d;
    __m256i lo[8], hi[8];
    load_transposed<D>(w, ws, ib, lo);
    load_transposed<D>(w + 8 * ws, ws, ib, hi);
    for (int k = 0; k < 8; ++k) out[ib].codes[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo[k]), hi[k], 1);
    out[ib].wd = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(dh)));
  }
}

template <class D>
void prepare_lane_tokens(int64_t nb, const uint8_t* const* x, int nc, LaneTokenBlock* out) {
  using X = typename D::X;
  const __m256i off = _mm256_set1_epi8(char(D::kOffset));
  for (int64_t ib = 0; ib < nb; ++ib) {
    __m256i s[8];
    uint16_t xh[8] = {};
    for (int c = 0; c < 8; ++c) s[c] = _mm256_setzero_si256();
    for (int c = 0; c < nc; ++c) {
      const X& xb = reinterpret_cast<const X*>(x[c])[ib];
      s[c] = _mm256_dpbusd_epi32(s[c], off, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs)));
      xh[c] = xb.d;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[ib].ncorr), _mm256_sub_epi32(_mm256_setzero_si256(), hsum8x8(s)));
    _mm256_storeu_ps(out[ib].xd, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xh))));
  }
}

template <class D>
struct PackedLaneTile {
  // Y[c * ldy + j] = dot(row j, token c) for j < 16, c < C, over nb blocks;
  // `resume` continues the sums already in Y (an earlier chunk of blocks).
  template <int C>
  static void run(int64_t nb, const LanePacked16* pw, const LaneTokenBlock* tk, const uint8_t* const* x, float* Y,
                  int64_t ldy, bool resume) {
    using X = typename D::X;
    __m512 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = resume ? _mm512_loadu_ps(Y + c * ldy) : _mm512_setzero_ps();
    for (int64_t ib = 0; ib < nb; ++ib) {
      const LanePacked16& b = pw[ib];
      __m512i p[C];
      for (int c = 0; c < C; ++c) p[c] = _mm512_set1_epi32(tk[ib].ncorr[c]);
      for (int k = 0; k < 8; ++k) {
        const __m512i t = _mm512_load_si512(&b.codes[k]);
        for (int c = 0; c < C; ++c) {
          int32_t g;
          memcpy(&g, reinterpret_cast<const X*>(x[c])[ib].qs + 4 * k, 4);
          p[c] = _mm512_dpbusd_epi32(p[c], t, _mm512_set1_epi32(g));
        }
      }
      for (int c = 0; c < C; ++c)
        acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p[c]), _mm512_mul_ps(b.wd, _mm512_set1_ps(tk[ib].xd[c])), acc[c]);
    }
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(Y + c * ldy, acc[c]);
  }
};

template <class D, int K>
inline void packed_lane_tail(int left, int64_t nb, const LanePacked16* pw, const LaneTokenBlock* tk,
                             const uint8_t* const* x, float* Y, int64_t ldy, bool resume) {
  if constexpr (K >= 1) {
    if (left == K)
      PackedLaneTile<D>::template run<K>(nb, pw, tk, x, Y, ldy, resume);
    else
      packed_lane_tail<D, K - 1>(left, nb, pw, tk, x, Y, ldy, resume);
  }
}

// Rows in blocks of 64 (their transposed codes stay in L2), blocks of the
// reduction in chunks of 32 (so the scratch lives on the stack, 74 KiB: the
// kernels allocate nothing); a (row, token) sum carries over chunks through Y
// as the exact float it is, so chunking does not change a bit.
template <class D>
[[gnu::noinline]] void matmul_lanes_packed(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X,
                                           size_t xs, int64_t n_tok, float* Y, int64_t ldy) {
  using Wb = typename D::W;
  using Xb = typename D::X;
  constexpr int C = 8;
  constexpr int64_t kRowBlock = 64, kChunk = 32;
  const int64_t nb = n / 32;
  LanePacked16 groups[kRowBlock / 16 * kChunk];
  LaneTokenBlock tokens[kChunk];
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(X);
  for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
    const int64_t re = rb + kRowBlock < r1 ? rb + kRowBlock : r1;
    const int64_t n16 = (re - rb) / 16;
    const int64_t r16 = rb + n16 * 16;
    const int64_t r8 = r16 + (re - r16) / 8 * 8;
    for (int64_t ib0 = 0; ib0 < nb && n16 > 0; ib0 += kChunk) {
      const int64_t kb = nb - ib0 < kChunk ? nb - ib0 : kChunk;
      for (int64_t g = 0; g < n16; ++g)
        pack_lane16<D>(kb, w + size_t(rb + 16 * g) * ws + size_t(ib0) * sizeof(Wb), ws, groups + g * kChunk);
      for (int64_t t = 0; t < n_tok; t += C) {
        const uint8_t* xr[C];
        const int nc = int(n_tok - t < C ? n_tok - t : C);
        for (int c = 0; c < nc; ++c) xr[c] = x + size_t(t + c) * xs + size_t(ib0) * sizeof(Xb);
        prepare_lane_tokens<D>(kb, xr, nc, tokens);
        for (int64_t g = 0; g < n16; ++g) {
          float* y = Y + t * ldy + rb + 16 * g;
          if (nc == C)
            PackedLaneTile<D>::template run<C>(kb, groups + g * kChunk, tokens, xr, y, ldy, ib0 > 0);
          else
            packed_lane_tail<D, C - 1>(nc, kb, groups + g * kChunk, tokens, xr, y, ldy, ib0 > 0);
        }
      }
    }
    // A last 8-row group through the unpacked lane tile, single rows after it.
    for (int64_t t = 0; t < n_tok && re > r16; t += C) {
      const uint8_t* xr[C];
      const int nc = int(n_tok - t < C ? n_tok - t : C);
      for (int c = 0; c < nc; ++c) xr[c] = x + size_t(t + c) * xs;
      if (r8 > r16) {
        if (nc == C)
          LaneTile<D>::template run<C>(n, w + size_t(r16) * ws, ws, xr, Y + t * ldy + r16, ldy);
        else
          lane_tail<D, C, C - 1>(nc, n, w + size_t(r16) * ws, ws, xr, Y + t * ldy + r16, ldy);
      }
      for (int64_t r = r8; r < re; ++r) {
        if (nc == C)
          lane_row<D, C>(n, w + size_t(r) * ws, xr, Y + t * ldy + r, ldy);
        else
          lane_row_tail<D, C - 1>(nc, n, w + size_t(r) * ws, xr, Y + t * ldy + r, ldy);
      }
    }
  }
}

// Rows in the lane tile's arithmetic, R at a time, each row one sequential
// weight stream (the batched decode's leftover single rows; it was the
// one-token decode path until matmul_batch, with its software prefetch of the
// next row group, measured 2x faster for one token too). Per row, 8 blocks' exact integer sums come out of one hsum8x8 plus
// the token's offset corrections (computed once per call); then
// acc = fma(float(sum), d_w·d_x, acc) block by block, in order, from 0: each
// lane of the lane tile, bit for bit.
template <class D>
void prepare_stream_token(int64_t nb, const uint8_t* x, int32_t* ncorr, float* xd) {
  using X = typename D::X;
  const __m256i off = _mm256_set1_epi8(char(D::kOffset));
  for (int64_t ib = 0; ib < nb; ++ib) {
    const X& xb = reinterpret_cast<const X*>(x)[ib];
    ncorr[ib] = -hsum_epi32(
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), off, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs))));
    xd[ib] = h2f(xb.d);
  }
}

template <class D, int R>
void stream_rows(int64_t nb, const uint8_t* w, size_t ws, const uint8_t* x, const int32_t* ncorr, const float* xd,
                 float* out) {
  using W = typename D::W;
  using X = typename D::X;
  const X* xb = reinterpret_cast<const X*>(x);
  float acc[R];
  for (int i = 0; i < R; ++i) acc[i] = 0.0f;
  int64_t ib = 0;
  for (; ib + 8 <= nb; ib += 8) {
    __m256i y[8];
    for (int j = 0; j < 8; ++j) y[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[ib + j].qs));
    const __m256i nc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ncorr + ib));
    const __m256 xdv = _mm256_loadu_ps(xd + ib);
    alignas(32) float f[R][8], sc[R][8];
    for (int i = 0; i < R; ++i) {
      const W* b = reinterpret_cast<const W*>(w + size_t(i) * ws) + ib;
      __m256i s[8];
      uint16_t dh[8];
      for (int j = 0; j < 8; ++j) {
        s[j] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), D::ucodes(b[j]), y[j]);
        dh[j] = b[j].d;
      }
      _mm256_store_ps(f[i], _mm256_cvtepi32_ps(_mm256_add_epi32(hsum8x8(s), nc)));
      _mm256_store_ps(sc[i], _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dh))), xdv));
    }
    for (int j = 0; j < 8; ++j)
      for (int i = 0; i < R; ++i) acc[i] = std::fma(f[i][j], sc[i][j], acc[i]);
  }
  for (; ib < nb; ++ib) {
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[ib].qs));
    for (int i = 0; i < R; ++i) {
      const W& b = reinterpret_cast<const W*>(w + size_t(i) * ws)[ib];
      const int32_t isum = hsum_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), D::ucodes(b), y));
      acc[i] = std::fma(float(isum + ncorr[ib]), h2f(b.d) * xd[ib], acc[i]);
    }
  }
  for (int i = 0; i < R; ++i) out[i] = acc[i];
}

// Rows up to 32768 elements: the batch's corrections and scales fit a stack
// scratch (the kernels allocate nothing).
constexpr int64_t kMaxStreamBlocks = 1024;

// Decode (1..16 tokens): each block of 16 (or 8) rows is loaded, decoded and
// transposed once and dotted with every token, instead of once per token. The
// tokens' offset corrections and scales are computed once per call. Several
// interleaved short rows defeat the hardware prefetcher from DRAM, so each
// block step also prefetches its share of the next row group: one sequential
// software stream a group ahead. Every lane's arithmetic is the lane tile's,
// in its order (integer block sum from the correction, then
// acc = fma(float(sum), d_w·d_x, acc) block by block): the same bits as every
// other Q4_0 path.
constexpr int kMaxBatchTokens = 16;

template <class D, int C>
void batch_rows8(int64_t nb, const uint8_t* w, size_t ws, const uint8_t* const* x, const int32_t* ncorr,
                 const float* xd, const uint8_t* next, float* Y, int64_t ldy) {
  using W = typename D::W;
  using X = typename D::X;
  const size_t step = 8 * ws / size_t(nb);  // bytes of the next group to prefetch per block
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    if (next)
      for (size_t o = 0; o < step + 63; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(next + size_t(ib) * step + o), _MM_HINT_T0);
    __m256i t[8];
    uint16_t dh[8];
    for (int i = 0; i < 8; ++i) dh[i] = reinterpret_cast<const W*>(w + size_t(i) * ws)[ib].d;
    load_transposed<D>(w, ws, ib, t);
    const __m256 wd = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dh)));
    for (int c = 0; c < C; ++c) {
      const int8_t* q = reinterpret_cast<const X*>(x[c])[ib].qs;
      __m256i p = _mm256_set1_epi32(ncorr[c * nb + ib]);
      for (int k = 0; k < 8; ++k) {
        int32_t g;
        memcpy(&g, q + 4 * k, 4);
        p = _mm256_dpbusd_epi32(p, t[k], _mm256_set1_epi32(g));
      }
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(wd, _mm256_set1_ps(xd[c * nb + ib])), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(Y + c * ldy, acc[c]);
}

// t[k] lane j = group k of row j for 16 rows (rows 0-7 in the low half), as
// pack_lane16 lays them out. Inlined, the transposition's 16 ymm temporaries
// live beside the caller's accumulators: for more than 8 tokens (16+ zmm
// accumulators) that spills, so those take the out-of-line copy, whose 8
// results go through the stack once.
template <class D>
[[gnu::always_inline]] inline void load_transposed16(const uint8_t* w, size_t ws, int64_t ib, __m512i* t) {
  __m256i lo[8], hi[8];
  load_transposed<D>(w, ws, ib, lo);
  load_transposed<D>(w + 8 * ws, ws, ib, hi);
  for (int k = 0; k < 8; ++k) t[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo[k]), hi[k], 1);
}
template <class D>
[[gnu::noinline]] void load_transposed16_outline(const uint8_t* w, size_t ws, int64_t ib, __m512i* t) {
  load_transposed16<D>(w, ws, ib, t);
}

// 16 rows per 512-bit register (two 8-row halves as pack_lane16 lays them out,
// kept in registers): half the broadcasts and instructions per row of batch_rows8.
template <class D, int C>
void batch_rows16(int64_t nb, const uint8_t* w, size_t ws, const uint8_t* const* x, const int32_t* ncorr,
                  const float* xd, const uint8_t* next, float* Y, int64_t ldy) {
  using W = typename D::W;
  using X = typename D::X;
  const size_t step = 16 * ws / size_t(nb);
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    if (next)
      for (size_t o = 0; o < step + 63; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(next + size_t(ib) * step + o), _MM_HINT_T0);
    uint16_t dh[16];
    for (int i = 0; i < 16; ++i) dh[i] = reinterpret_cast<const W*>(w + size_t(i) * ws)[ib].d;
    __m512i t[8];
    if constexpr (C <= 8)
      load_transposed16<D>(w, ws, ib, t);
    else
      load_transposed16_outline<D>(w, ws, ib, t);
    const __m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(dh)));
    for (int c = 0; c < C; ++c) {
      const int8_t* q = reinterpret_cast<const X*>(x[c])[ib].qs;
      __m512i p = _mm512_set1_epi32(ncorr[c * nb + ib]);
      for (int k = 0; k < 8; ++k) {
        int32_t g;
        memcpy(&g, q + 4 * k, 4);
        p = _mm512_dpbusd_epi32(p, t[k], _mm512_set1_epi32(g));
      }
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(wd, _mm512_set1_ps(xd[c * nb + ib])), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(Y + c * ldy, acc[c]);
}

template <class D, int K>
inline void batch_rows16_n(int n_tok, int64_t nb, const uint8_t* w, size_t ws, const uint8_t* const* x,
                           const int32_t* ncorr, const float* xd, const uint8_t* next, float* Y, int64_t ldy) {
  if constexpr (K >= 1) {
    if (n_tok == K)
      batch_rows16<D, K>(nb, w, ws, x, ncorr, xd, next, Y, ldy);
    else
      batch_rows16_n<D, K - 1>(n_tok, nb, w, ws, x, ncorr, xd, next, Y, ldy);
  }
}

template <class D, int K>
inline void batch_rows8_n(int n_tok, int64_t nb, const uint8_t* w, size_t ws, const uint8_t* const* x,
                          const int32_t* ncorr, const float* xd, const uint8_t* next, float* Y, int64_t ldy) {
  if constexpr (K >= 1) {
    if (n_tok == K)
      batch_rows8<D, K>(nb, w, ws, x, ncorr, xd, next, Y, ldy);
    else
      batch_rows8_n<D, K - 1>(n_tok, nb, w, ws, x, ncorr, xd, next, Y, ldy);
  }
}

template <class D>
[[gnu::noinline]] void matmul_batch(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X,
                                    size_t xs, int64_t n_tok, float* Y, int64_t ldy) {
  const int64_t nb = n / 32;
  int32_t ncorr[kMaxBatchTokens * kMaxStreamBlocks];
  float xd[kMaxBatchTokens * kMaxStreamBlocks];
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(X);
  const uint8_t* xr[kMaxBatchTokens];
  for (int64_t t = 0; t < n_tok; ++t) {
    xr[t] = x + size_t(t) * xs;
    prepare_stream_token<D>(nb, xr[t], ncorr + t * nb, xd + t * nb);
  }
  int64_t r = r0;
  for (; r + 16 <= r1; r += 16) {
    const uint8_t* next = r + 32 <= r1 ? w + size_t(r + 16) * ws : nullptr;
    batch_rows16_n<D, kMaxBatchTokens>(int(n_tok), nb, w + size_t(r) * ws, ws, xr, ncorr, xd, next, Y + r, ldy);
  }
  for (; r + 8 <= r1; r += 8) {
    const uint8_t* next = nullptr;
    batch_rows8_n<D, kMaxBatchTokens>(int(n_tok), nb, w + size_t(r) * ws, ws, xr, ncorr, xd, next, Y + r, ldy);
  }
  for (; r < r1; ++r)
    for (int64_t t = 0; t < n_tok; ++t)
      stream_rows<D, 1>(nb, w + size_t(r) * ws, ws, xr[t], ncorr + t * nb, xd + t * nb, Y + t * ldy + r);
}

// Decode batches (1..16 tokens) share each decoded 16-row block, longer ones
// transpose once per row block. Both give the lane tile's bits, so the
// switch cannot break batch invariance. One token used to stream 4 rows at a
// time (stream_rows); the 16-row path with its prefetch is faster there too:
// bench matmul_dram q4_0 n=2048 tok=1, 64 MiB from DRAM, medians of 3, three
// interleaved sittings at load 10: 14.2/14.1/14.9 ms streamed vs 6.5/7.0/8.6
// ms; matmul_rows (L2) 24.0/23.0/25.6 vs 16.3/16.0/17.9 us.
template <class D>
void matmul_lanes_auto(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X, size_t xs,
                       int64_t n_tok, float* Y, int64_t ldy) {
  if (n_tok > kMaxBatchTokens || n / 32 > kMaxStreamBlocks)
    matmul_lanes_packed<D>(n, W, ws, r0, r1, X, xs, n_tok, Y, ldy);
  else
    matmul_batch<D>(n, W, ws, r0, r1, X, xs, n_tok, Y, ldy);
}

#include "qinfer/kernels/lanes_x16.inc"

// Prefill with vec_dot's own summation order (bit-for-bit as the 1×8 path):
// QuantTile R×C register tiles, cache-blocked as matmul_lanes_packed.
template <class D, int R, int C>
void matmul_blocked(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X, size_t xs,
                    int64_t n_tok, float* Y, int64_t ldy) {
  using T = QuantTile<D>;
  constexpr int64_t kRowBlock = 64;
  if (n_tok < 4) return matmul_decode<D>(n, W, ws, r0, r1, X, xs, n_tok, Y, ldy);
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(X);
  for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
    const int64_t re = rb + kRowBlock < r1 ? rb + kRowBlock : r1;
    for (int64_t t = 0; t < n_tok; t += C) {
      const int64_t nc = n_tok - t < C ? n_tok - t : C;
      int64_t r = rb;
      for (; r + R <= re; r += R) {
        if (nc == C)
          run_tile<T, R, C>(n, w, ws, r, x, xs, t, Y, ldy);
        else
          run_tail<T, R, C - 1>(nc, n, w, ws, r, x, xs, t, Y, ldy);
      }
      for (; r < re; ++r) {
        if (nc == C)
          run_tile<T, 1, C>(n, w, ws, r, x, xs, t, Y, ldy);
        else
          run_tail<T, 1, C - 1>(nc, n, w, ws, r, x, xs, t, Y, ldy);
      }
    }
  }
}

#include "qinfer/kernels/lanes_q8_0x16.inc"

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
  t.matmul[uint32_t(TypeId::Q4_0)] = matmul_lanes_auto<DecQ4_0>;
  t.matmul_packed[uint32_t(TypeId::Q4_0)] = matmul_pk<PkQ4_0, q4_0x16::matmul_reference>;
  set<QuantTile<DecQ4_1>>(t, TypeId::Q4_1);
  set<QuantTile<DecQ5_0>>(t, TypeId::Q5_0);
  t.matmul[uint32_t(TypeId::Q5_0)] = matmul_lanes_auto<DecQ5_0>;  // the lane order, as IQ4_NL below
  t.matmul_packed[uint32_t(TypeId::Q5_0)] = matmul_pk<PkQ5_0, q5_0x16::matmul_reference>;
  set<QuantTile<DecQ5_1>>(t, TypeId::Q5_1);
  set<QuantTile<DecQ8_0>>(t, TypeId::Q8_0);
  // Q8_0 keeps vec_dot's order (the KL golden; lanes_q8_0x16.inc says why),
  // packed or not.
  t.matmul[uint32_t(TypeId::Q8_0)] = matmul_blocked<DecQ8_0, 4, 4>;
  t.matmul_packed[uint32_t(TypeId::Q8_0)] = matmul_q8_0x16;
  set<QuantTile<DecIQ4_NL>>(t, TypeId::IQ4_NL);
  // IQ4_NL in the lane tile's order, as Q4_0: its packed kernel (lanes_x16.inc)
  // gives the same bits as this on the file's rows.
  t.matmul[uint32_t(TypeId::IQ4_NL)] = matmul_lanes_auto<DecIQ4_NL>;
  t.matmul_packed[uint32_t(TypeId::IQ4_NL)] = matmul_pk<PkIQ4_NL, iq4_nlx16::matmul_reference>;
  set<KTile<KDecQ2_K>>(t, TypeId::Q2_K);
  set<KTile<KDecQ3_K>>(t, TypeId::Q3_K);
  set<KTile<KDecQ4_K>>(t, TypeId::Q4_K);
  set<KTile<KDecQ5_K>>(t, TypeId::Q5_K);
  set<KTile<KDecQ6_K>>(t, TypeId::Q6_K);
}

}  // namespace qinfer::kernels
