// AVX-512 VNNI matmul over k-quant weights packed 16 rows at a time
// (packed_kx16.h: q4_Kx16, q5_Kx16, q6_Kx16), for decode batches and prefill.
//
// Per super-block, 16-row group and token: each sub-block's exact dot of 16
// rows is a chain of vpdpbusd (one per 4 elements, the activation broadcast
// from memory), times the rows' scales (vpmulld), summed into one int32 per
// row; the bias is 8 vpdpwssd of the rows' (min or scale) pairs with the
// token's bsums pairs; then one float step per row, as KTile (kquant256.inc)
// does it. So every row gets matmul_rows' bits (and vec_dot's), for any token
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

// Codes of chunk pair v (0..3) as unsigned bytes: q[L] = lane slice L of
// chunk ja(v), q[8 + L] = of chunk jb(v). kSeg: sub-blocks per chunk (Q6_K's
// are 16 elements: slices 0-3 and 4-7).
struct PackedQ4K {
  static constexpr TypeId kType = TypeId::Q4_K;
  static constexpr size_t kCodeBytes = 2048;
  static constexpr bool kMin = true;
  static constexpr int kSeg = 1;
  static constexpr int ja(int v) { return 2 * v; }
  static constexpr int jb(int v) { return 2 * v + 1; }
  template <int V>
  [[gnu::always_inline]] static inline void codes(const uint8_t* sb, __m512i* q) {
    const __m512i m = _mm512_set1_epi8(0x0F);
    for (int L = 0; L < 8; ++L) {
      const __m512i b = load512(sb + 512 * V + 64 * L);
      q[L] = _mm512_and_si512(b, m);
      q[8 + L] = _mm512_and_si512(_mm512_srli_epi16(b, 4), m);
    }
  }
};

struct PackedQ5K {
  static constexpr TypeId kType = TypeId::Q5_K;
  static constexpr size_t kCodeBytes = 2048 + 512;
  static constexpr bool kMin = true;
  static constexpr int kSeg = 1;
  static constexpr int ja(int v) { return 2 * v; }
  static constexpr int jb(int v) { return 2 * v + 1; }
  template <int V>
  [[gnu::always_inline]] static inline void codes(const uint8_t* sb, __m512i* q) {
    PackedQ4K::codes<V>(sb, q);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    for (int L = 0; L < 8; ++L) {
      const __m512i h = load512(sb + 2048 + 64 * L);
      q[L] = or_and(q[L], move_bits<2 * V, 4>(h), bit4);
      q[8 + L] = or_and(q[8 + L], move_bits<2 * V + 1, 4>(h), bit4);
    }
  }
};

struct PackedQ6K {
  static constexpr TypeId kType = TypeId::Q6_K;
  static constexpr size_t kCodeBytes = 2048 + 1024;
  static constexpr bool kMin = false;
  static constexpr int kSeg = 2;
  static constexpr int ja(int v) { return 4 * (v / 2) + v % 2; }
  static constexpr int jb(int v) { return 4 * (v / 2) + v % 2 + 2; }
  template <int V>
  [[gnu::always_inline]] static inline void codes(const uint8_t* sb, __m512i* q) {
    constexpr int H = V / 2, P = V % 2;
    const __m512i m = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    for (int L = 0; L < 8; ++L) {
      const __m512i b = load512(sb + 512 * V + 64 * L);
      const __m512i h = load512(sb + 2048 + 512 * H + 64 * L);
      q[L] = or_and(_mm512_and_si512(b, m), move_bits<2 * P, 4>(h), bits45);
      q[8 + L] = or_and(_mm512_and_si512(_mm512_srli_epi16(b, 4), m), move_bits<2 * P + 4, 4>(h), bits45);
    }
  }
};

template <class PD>
constexpr size_t kSbBytes = (PD::kCodeBytes + kx16::kPairBytes + (PD::kMin ? 64 : 32) + 63) / 64 * 64;

// A super-block's int8 pairs as multipliers: mult[kSeg·J + s] the int32 scale
// of sub-block s of chunk J per row, bias[l] the int16 pair per row that
// multiplies the token's (bsums[2l], bsums[2l+1]).
struct SbScales {
  __m512i mult[16];
  __m512i bias[8];
};

template <class PD>
[[gnu::always_inline]] inline void load_scales(const uint8_t* pairs, SbScales& s) {
  const __m512i second = _mm512_broadcast_i32x4(_mm_setr_epi8(2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15));
  for (int p = 0; p < 8; ++p) {
    // dword j = (first, second) int16 of row j's pair p
    const __m512i e = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pairs + 32 * p)));
    if constexpr (PD::kMin) {  // (scale, min) of sub-block p
      s.mult[p] = _mm512_srai_epi32(_mm512_slli_epi32(e, 16), 16);
      s.bias[p] = _mm512_shuffle_epi8(e, second);
    } else {  // Q6_K: the scales of sub-blocks 2p, 2p+1; the bias is offset 32 · scale
      s.mult[2 * p] = _mm512_srai_epi32(_mm512_slli_epi32(e, 16), 16);
      s.mult[2 * p + 1] = _mm512_srai_epi32(e, 16);
      s.bias[p] = _mm512_slli_epi16(e, 5);
    }
  }
}

// Σ over slices [L0, L0 + N) of chunk J's 4-element dots of the 16 rows with the token's y.
template <int L0, int N>
[[gnu::always_inline]] inline __m512i slice_dots(const __m512i* q, const int8_t* y) {
  __m512i d[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  static_for<0, N>([&]<int i>() {
    int32_t y4;
    memcpy(&y4, y + 4 * (L0 + i), 4);
    d[i % 2] = _mm512_dpbusd_epi32(d[i % 2], q[L0 + i], _mm512_set1_epi32(y4));
  });
  return _mm512_add_epi32(d[0], d[1]);
}

// Tokens per pass over a group: its float accumulators (8 per token) live on the stack.
constexpr int kTile = 16;

// Y[c * ldy + j] = dot(row j of the group, token c) for j < 16, c < nc <= kTile.
// `next`, when set, is the following group, prefetched a super-block's share per super-block.
template <class PD>
void group_rows16(int64_t nb, const uint8_t* grp, const uint8_t* const* x, int nc, const uint8_t* next, float* Y,
                  int64_t ldy) {
  constexpr size_t sbb = kSbBytes<PD>;
  __m512 acc[kTile];
  __m512i isum[kTile];
  for (int c = 0; c < nc; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t ib = 0; ib < nb; ++ib) {
    const uint8_t* sb = grp + size_t(ib) * sbb;
    if (next)
      for (size_t o = 0; o < sbb; o += 64)
        _mm_prefetch(reinterpret_cast<const char*>(next + size_t(ib) * sbb + o), _MM_HINT_T0);
    SbScales s;
    load_scales<PD>(sb + PD::kCodeBytes, s);
    for (int c = 0; c < nc; ++c) isum[c] = _mm512_setzero_si512();
    static_for<0, 4>([&]<int V>() {
      __m512i q[16];
      PD::template codes<V>(sb, q);
      constexpr int ja = PD::ja(V), jb = PD::jb(V);
      for (int c = 0; c < nc; ++c) {
        const int8_t* y = reinterpret_cast<const BlockQ8_K*>(x[c])[ib].qs;
        __m512i t;
        if constexpr (PD::kSeg == 1) {
          t = _mm512_mullo_epi32(slice_dots<0, 8>(q, y + 32 * ja), s.mult[ja]);
          t = _mm512_add_epi32(t, _mm512_mullo_epi32(slice_dots<0, 8>(q + 8, y + 32 * jb), s.mult[jb]));
        } else {
          t = _mm512_mullo_epi32(slice_dots<0, 4>(q, y + 32 * ja), s.mult[2 * ja]);
          t = _mm512_add_epi32(t, _mm512_mullo_epi32(slice_dots<4, 4>(q, y + 32 * ja), s.mult[2 * ja + 1]));
          t = _mm512_add_epi32(t, _mm512_mullo_epi32(slice_dots<0, 4>(q + 8, y + 32 * jb), s.mult[2 * jb]));
          t = _mm512_add_epi32(t, _mm512_mullo_epi32(slice_dots<4, 4>(q + 8, y + 32 * jb), s.mult[2 * jb + 1]));
        }
        isum[c] = _mm512_add_epi32(isum[c], t);
      }
    });
    const size_t d_off = PD::kCodeBytes + kx16::kPairBytes;
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + d_off)));
    for (int c = 0; c < nc; ++c) {
      const BlockQ8_K& xb = reinterpret_cast<const BlockQ8_K*>(x[c])[ib];
      __m512i b = _mm512_setzero_si512();
      for (int l = 0; l < 8; ++l) {
        int32_t bs2;
        memcpy(&bs2, xb.bsums + 2 * l, 4);
        b = _mm512_dpwssd_epi32(b, s.bias[l], _mm512_set1_epi32(bs2));
      }
      const __m512 dx = _mm512_set1_ps(xb.d);
      if constexpr (PD::kMin) {
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + d_off + 32)));
        acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(isum[c]), acc[c]);
        acc[c] = _mm512_fnmadd_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(b), acc[c]);
      } else {
        acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(_mm512_sub_epi32(isum[c], b)), acc[c]);
      }
    }
  }
  for (int c = 0; c < nc; ++c) _mm512_storeu_ps(Y + c * ldy, acc[c]);
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
