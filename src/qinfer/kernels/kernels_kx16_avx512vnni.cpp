// AVX-512 VNNI matmul over k-quant weights packed 16 rows at a time
// (packed_kx16.h: q4_Kx16, q5_Kx16, q6_Kx16), for decode batches and prefill.
//
// Per super-block and 16-row group, lane group l (the 4-element slice
// 32J+4l..+3 of every chunk J) is one int32 vector of the 16 rows: per token
// 8 × (vpmaddubsw, vpdpwssd with the row's sub-block scale) give KTile's lane
// l integer for all 16 rows at once, its bias is one vpmaddwd of the rows'
// (min or scale) pairs with the token's bsums pair, and each (row, lane l)
// keeps its own float accumulator, folded at the end in hsum8's tree. So
// every row gets KTile's integers and float operations in KTile's order: the
// bits of matmul_rows on the file's rows (and of vec_dot), for any token
// count or row split (batch invariance).
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/kernels/packed_kx16.h"
#include "qinfer/quant/q8_k.h"

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*(), which
// trips -W(maybe-)uninitialized at every use (GCC PR 105593); not our code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qinfer::kernels {
namespace {

template <int B, int E, class F>
[[gnu::always_inline]] inline void static_for(F&& f) {
  if constexpr (B < E) {
    f.template operator()<B>();
    static_for<B + 1, E>(f);
  }
}

inline __m512i load512(const uint8_t* p) { return _mm512_loadu_si512(p); }

// Bits From..From+w of every byte moved to To..To+w (other bits: whatever the
// 16-bit shift brings, masked by the caller).
template <int From, int To>
[[gnu::always_inline]] inline __m512i move_bits(__m512i v) {
  if constexpr (From < To) return _mm512_slli_epi16(v, To - From);
  if constexpr (From > To) return _mm512_srli_epi16(v, From - To);
  return v;
}

// a | (b & c), one vpternlogd.
inline __m512i or_and(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi32(a, b, c, 0xF8); }

// The codes of lane group l (vectors at lg) as unsigned bytes, q[J] for chunk J.
struct PackedQ4K {
  static constexpr TypeId kType = TypeId::Q4_K;
  static constexpr size_t kLaneBytes = 256;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static inline void codes(const uint8_t* lg, __m512i* q) {
    const __m512i m = _mm512_set1_epi8(0x0F);
    for (int v = 0; v < 4; ++v) {
      const __m512i b = load512(lg + 64 * v);
      q[2 * v] = _mm512_and_si512(b, m);
      q[2 * v + 1] = _mm512_and_si512(_mm512_srli_epi16(b, 4), m);
    }
  }
};

struct PackedQ5K {
  static constexpr TypeId kType = TypeId::Q5_K;
  static constexpr size_t kLaneBytes = 320;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static inline void codes(const uint8_t* lg, __m512i* q) {
    PackedQ4K::codes(lg, q);
    const __m512i h = load512(lg + 256), bit4 = _mm512_set1_epi8(0x10);
    static_for<0, 8>([&]<int J>() { q[J] = or_and(q[J], move_bits<J, 4>(h), bit4); });
  }
};

struct PackedQ6K {
  static constexpr TypeId kType = TypeId::Q6_K;
  static constexpr size_t kLaneBytes = 384;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static inline void codes(const uint8_t* lg, __m512i* q) {
    const __m512i m = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    static_for<0, 2>([&]<int H>() {
      const __m512i h = load512(lg + 256 + 64 * H);
      static_for<0, 2>([&]<int P>() {
        const __m512i b = load512(lg + 64 * (2 * H + P));
        q[4 * H + P] = or_and(_mm512_and_si512(b, m), move_bits<2 * P, 4>(h), bits45);
        q[4 * H + P + 2] = or_and(_mm512_and_si512(_mm512_srli_epi16(b, 4), m), move_bits<2 * P + 4, 4>(h), bits45);
      });
    });
  }
};

template <class PD>
constexpr size_t kSbBytes = (8 * PD::kLaneBytes + kx16::kPairBytes + (PD::kMin ? 64 : 32) + 63) / 64 * 64;

// A super-block's int8 pairs as the dot and bias multipliers (int16 pairs per
// row): scale[h][J] for lanes 4h..4h+3 of chunk J, bias[l] for lane l.
struct SbScales {
  __m512i scale[2][8];
  __m512i bias[8];
};

template <class PD>
[[gnu::always_inline]] inline void load_scales(const uint8_t* pairs, SbScales& s) {
  // Per dword: its first int16 twice, or its second twice.
  const __m512i first = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13));
  const __m512i second = _mm512_broadcast_i32x4(_mm_setr_epi8(2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15));
  for (int p = 0; p < 8; ++p) {
    const __m512i e = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pairs + 32 * p)));
    if constexpr (PD::kMin) {  // (scale, min) of sub-block p: every lane of chunk p, and lane p's mins
      s.scale[0][p] = s.scale[1][p] = _mm512_shuffle_epi8(e, first);
      s.bias[p] = _mm512_shuffle_epi8(e, second);
    } else {  // Q6_K: the scales of sub-blocks 2p, 2p+1; the bias is offset 32 · scale
      s.scale[0][p] = _mm512_shuffle_epi8(e, first);
      s.scale[1][p] = _mm512_shuffle_epi8(e, second);
      s.bias[p] = _mm512_slli_epi16(e, 5);
    }
  }
}

// Tokens per pass over a group: its float accumulators (8 per token) live on the stack.
constexpr int kTile = 16;

// Y[c * ldy + j] = dot(row j of the group, token c) for j < 16, c < nc <= kTile.
// `next`, when set, is the following group, prefetched a super-block's share per super-block.
template <class PD>
void group_rows16(int64_t nb, const uint8_t* grp, const uint8_t* const* x, int nc, const uint8_t* next, float* Y,
                  int64_t ldy) {
  constexpr size_t sbb = kSbBytes<PD>;
  __m512 acc[kTile][8];
  __m512 ddx[kTile], dmx[kTile];
  for (int c = 0; c < nc; ++c)
    for (int l = 0; l < 8; ++l) acc[c][l] = _mm512_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* sb = grp + size_t(ib) * sbb;
    if (next)
      for (size_t o = 0; o < sbb; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(next + size_t(ib) * sbb + o), _MM_HINT_T0);
    SbScales s;
    load_scales<PD>(sb + 8 * PD::kLaneBytes, s);
    const size_t d_off = 8 * PD::kLaneBytes + kx16::kPairBytes;
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + d_off)));
    for (int c = 0; c < nc; ++c) {
      const __m512 dx = _mm512_set1_ps(reinterpret_cast<const BlockQ8_K*>(x[c])[ib].d);
      ddx[c] = _mm512_mul_ps(d, dx);
      if constexpr (PD::kMin)
        dmx[c] = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + d_off + 32))), dx);
    }
    static_for<0, 8>([&]<int L>() {
      __m512i q[8];
      PD::codes(sb + L * PD::kLaneBytes, q);
      for (int c = 0; c < nc; ++c) {
        const BlockQ8_K& xb = reinterpret_cast<const BlockQ8_K*>(x[c])[ib];
        __m512i is[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        static_for<0, 8>([&]<int J>() {
          int32_t y4;
          memcpy(&y4, xb.qs + 32 * J + 4 * L, 4);
          is[J % 2] = _mm512_dpwssd_epi32(is[J % 2], _mm512_maddubs_epi16(q[J], _mm512_set1_epi32(y4)),
                                          s.scale[L / 4][J]);
        });
        int32_t bs2;
        memcpy(&bs2, xb.bsums + 2 * L, 4);
        const __m512i b = _mm512_madd_epi16(_mm512_set1_epi32(bs2), s.bias[L]);
        const __m512i isum = _mm512_add_epi32(is[0], is[1]);
        if constexpr (PD::kMin) {
          acc[c][L] = _mm512_fmadd_ps(ddx[c], _mm512_cvtepi32_ps(isum), acc[c][L]);
          acc[c][L] = _mm512_fnmadd_ps(dmx[c], _mm512_cvtepi32_ps(b), acc[c][L]);
        } else {
          acc[c][L] = _mm512_fmadd_ps(ddx[c], _mm512_cvtepi32_ps(_mm512_sub_epi32(isum, b)), acc[c][L]);
        }
      }
    });
  }
  for (int c = 0; c < nc; ++c) {
    const __m512* a = acc[c];
    const __m512 lo = _mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6]));
    const __m512 hi = _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7]));
    _mm512_storeu_ps(Y + c * ldy, _mm512_add_ps(lo, hi));
  }
}

// Whole groups through group_rows16: decode batches (<= kTile tokens) in one
// pass per group with the next group prefetched; longer batches per block of
// kBlockGroups groups (their weights stay in L2) for every token tile. Rows
// of a group cut by the range (callers split at multiples of 16, tests do
// not) through the scalar reference, the same bits; the plain tail rows
// through matmul_rows (KTile), the bits the reference reproduces.
template <class PD>
void matmul_kx16(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t xs,
                 int64_t n_tok, float* Y, int64_t ldy) {
  constexpr int64_t kBlockGroups = 4;
  const kx16::Shape& sh = kx16::shape(PD::kType);
  const PackedFormat& f = *packed_format(PD::kType);
  const int64_t nb = n / kQK_K;
  const auto* x = static_cast<const uint8_t*>(X);
  const int64_t whole = rows / 16 * 16;
  const int64_t in_end = std::min(r1, whole);  // rows of [r0, r1) in whole groups end here
  const int64_t g0 = (r0 + 15) / 16, g1 = std::max(g0, in_end / 16);
  if (r0 < std::min(16 * g0, in_end)) f.matmul_reference(n, P, rows, r0, std::min(16 * g0, in_end), X, xs, n_tok, Y, ldy);
  const uint8_t* xr[kTile];
  if (n_tok <= kTile) {
    for (int64_t t = 0; t < n_tok; ++t) xr[t] = x + size_t(t) * xs;
    for (int64_t g = g0; g < g1; ++g) {
      const uint8_t* next = g + 1 < g1 ? kx16::group(sh, P, n, g + 1) : nullptr;
      group_rows16<PD>(nb, kx16::group(sh, P, n, g), xr, int(n_tok), next, Y + 16 * g, ldy);
    }
  } else {
    for (int64_t gb = g0; gb < g1; gb += kBlockGroups) {
      const int64_t ge = std::min(g1, gb + kBlockGroups);
      for (int64_t t = 0; t < n_tok; t += kTile) {
        const int nc = int(std::min<int64_t>(kTile, n_tok - t));
        for (int c = 0; c < nc; ++c) xr[c] = x + size_t(t + c) * xs;
        for (int64_t g = gb; g < ge; ++g)
          group_rows16<PD>(nb, kx16::group(sh, P, n, g), xr, nc, nullptr, Y + t * ldy + 16 * g, ldy);
      }
    }
  }
  const int64_t b = std::max(16 * g1, r0);
  if (b < in_end) f.matmul_reference(n, P, rows, b, in_end, X, xs, n_tok, Y, ldy);
  if (r1 > whole) {
    const int64_t a = std::max(r0, whole);
    matmul_rows(PD::kType, n, kx16::tail_row(sh, P, n, rows, whole), kx16::tail_row_bytes(sh, n), a - whole,
                r1 - whole, X, xs, n_tok, Y + whole, ldy);
  }
}

}  // namespace

void fill_packed_kx16_avx512vnni(KernelTable& t) {
  t.matmul_packed[uint32_t(TypeId::Q4_K)] = matmul_kx16<PackedQ4K>;
  t.matmul_packed[uint32_t(TypeId::Q5_K)] = matmul_kx16<PackedQ5K>;
  t.matmul_packed[uint32_t(TypeId::Q6_K)] = matmul_kx16<PackedQ6K>;
}

}  // namespace qinfer::kernels
