// NEON attention (baseline ARMv8-A, for both the neon and neon_dot paths):
// the scalar reference's steps (attention_scalar_ops.inc) with the F16 and
// float loops over 16 keys as four 4-lane vectors, in the reference's order,
// so results are its bits; and the F16-K scores of an F16-V cache in this
// ISA's F16 vec_dot arithmetic (neon_blocks.inc's FloatTile), as the driver
// requires.
#include <arm_neon.h>

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
#include "qinfer/kernels/attention_scalar_ops.inc"

inline float32x4_t load_h4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

// kernels::exp_approx on 4 lanes: the same operations in the same order.
inline float32x4_t exp4(float32x4_t x) {
  const uint32x4_t tiny = vcltq_f32(x, vdupq_n_f32(-86.0f));
  x = vminq_f32(vdupq_n_f32(88.0f), x);  // NaN stays NaN, as std::min(x, 88)
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmaq_n_f32(x, n, -0.693359375f);
  r = vfmaq_n_f32(r, n, 2.12194440e-4f);
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  p = vfmaq_f32(r, p, vmulq_f32(r, r));
  p = vaddq_f32(p, vdupq_n_f32(1.0f));
  const int32x4_t e = vshlq_n_s32(vcvtq_s32_f32(n), 23);
  const uint32x4_t y = vreinterpretq_u32_s32(vaddq_s32(vreinterpretq_s32_f32(p), e));
  return vreinterpretq_f32_u32(vbicq_u32(y, tiny));
}

// Four keys' 4-code groups (16 bytes) times the same 4 query codes repeated:
// one exact int32 sum per key (8-bit products widened, then added pairwise).
inline int32x4_t dot_keys(int8x16_t k, int8x16_t y) {
  const int16x8_t lo = vmull_s8(vget_low_s8(k), vget_low_s8(y));  // keys 0, 1
  const int16x8_t hi = vmull_high_s8(k, y);                       // keys 2, 3
  return vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi));
}

struct NeonOps : ScalarOps {
  static void k_to_float(const uint8_t* tile, int hd, float* kf) {
    const auto* h = reinterpret_cast<const uint16_t*>(tile);
    for (int i = 0; i < hd * kKeyTile; i += 4) vst1q_f32(kf + i, load_h4(h + i));
  }
  // Chains c[d % 4] = fma(q[d], k[d][j], c) for 16 keys at once, then (c0 + c1) + (c2 + c3).
  static void qk_f16(const float* qf, int hd, const float* kf, float* s) {
    float32x4_t c[4][4];
    for (auto& ci : c)
      for (auto& v : ci) v = vdupq_n_f32(0.0f);
    for (int d = 0; d < hd; ++d)
      for (int g = 0; g < 4; ++g) c[d % 4][g] = vfmaq_n_f32(c[d % 4][g], vld1q_f32(kf + d * kKeyTile + 4 * g), qf[d]);
    for (int g = 0; g < 4; ++g) vst1q_f32(s + 4 * g, vaddq_f32(vaddq_f32(c[0][g], c[1][g]), vaddq_f32(c[2][g], c[3][g])));
  }
  // FloatTile<LdF16>'s vec_dot for each key: element d feeds chain d % 16
  // (lane d % 4 of accumulator d / 4 % 4), a zero-padded last step adds +0 to
  // the chains past hd, then lanes (c_l + c_4+l) + (c_8+l + c_12+l) and hsum4.
  static void qk_f16_dot(const float* qf, int hd, const float* kf, float* s) {
    float32x4_t c[16][4];  // [chain][keys 4g..4g+3]
    for (auto& ci : c)
      for (auto& v : ci) v = vdupq_n_f32(0.0f);
    int d = 0;
    for (; d < hd; ++d)
      for (int g = 0; g < 4; ++g) c[d % 16][g] = vfmaq_n_f32(c[d % 16][g], vld1q_f32(kf + d * kKeyTile + 4 * g), qf[d]);
    for (; d % 16 != 0; ++d)
      for (int g = 0; g < 4; ++g) c[d % 16][g] = vaddq_f32(c[d % 16][g], vdupq_n_f32(0.0f));
    for (int g = 0; g < 4; ++g) {
      float32x4_t l[4];
      for (int i = 0; i < 4; ++i) l[i] = vaddq_f32(vaddq_f32(c[i][g], c[4 + i][g]), vaddq_f32(c[8 + i][g], c[12 + i][g]));
      vst1q_f32(s + 4 * g, vaddq_f32(vaddq_f32(l[0], l[1]), vaddq_f32(l[2], l[3])));
    }
  }
  // Q8_0/Q4_0 K: per 32-block each key's exact integer sum, then
  // fma(float(isum), d_k·d_q, s), for 16 keys as four 4-lane vectors.
  static void qk_quant(TypeId t, const BlockQ8_0* q, const int32_t*, int hd, const uint8_t* tile, float* s) {
    const size_t bb = k_block_bytes(t);
    float32x4_t acc[4];
    for (auto& a : acc) a = vdupq_n_f32(0.0f);
    for (int b = 0; b < hd / 32; ++b) {
      const uint8_t* tb = tile + size_t(b) * bb;
      int32x4_t isum[4];
      for (auto& v : isum) v = vdupq_n_s32(0);
      for (int g = 0; g < 8; ++g) {  // elements 4g..4g+3
        uint32_t y4;
        std::memcpy(&y4, q[b].qs + 4 * g, 4);
        const int8x16_t y = vreinterpretq_s8_u32(vdupq_n_u32(y4));
        for (int h = 0; h < 4; ++h) {
          int8x16_t k;
          if (t == TypeId::Q8_0) {
            k = vreinterpretq_s8_u8(vld1q_u8(tb + kScales + size_t(g) * 64 + 16 * h));
          } else {  // dword g % 4: low nibbles for g < 4, high ones for the second half
            const uint8x16_t v = vld1q_u8(tb + kScales + size_t(g % 4) * 64 + 16 * h);
            const uint8x16_t nib = g < 4 ? vandq_u8(v, vdupq_n_u8(0x0F)) : vshrq_n_u8(v, 4);
            k = vsubq_s8(vreinterpretq_s8_u8(nib), vdupq_n_s8(8));
          }
          isum[h] = vaddq_s32(isum[h], dot_keys(k, y));
        }
      }
      const float dq = fp16_to_f32(q[b].d);
      for (int h = 0; h < 4; ++h) {
        const float32x4_t dk = load_h4(reinterpret_cast<const uint16_t*>(tb) + 4 * h);
        acc[h] = vfmaq_f32(acc[h], vcvtq_f32_s32(isum[h]), vmulq_n_f32(dk, dq));
      }
    }
    for (int h = 0; h < 4; ++h) vst1q_f32(s + 4 * h, acc[h]);
  }
  static void accumulate(const float* s, int nk, float* acc, const float* vf, int hd) {
    for (int j = 0; j < nk; ++j) {
      int d = 0;
      for (; d + 4 <= hd; d += 4)
        vst1q_f32(acc + d, vfmaq_n_f32(vld1q_f32(acc + d), vld1q_f32(vf + size_t(j) * hd + d), s[j]));
      for (; d < hd; ++d) acc[d] = std::fma(s[j], vf[size_t(j) * hd + d], acc[d]);
    }
  }
  // Multiply, then add (no FMA), as the reference.
  static void mul_add(const float* p, int nk, float* acc, const float* vf, int hd) {
    for (int j = 0; j < nk; ++j) {
      const float* v = vf + size_t(j) * hd;
      int d = 0;
      for (; d + 4 <= hd; d += 4) vst1q_f32(acc + d, vaddq_f32(vld1q_f32(acc + d), vmulq_n_f32(vld1q_f32(v + d), p[j])));
      for (; d < hd; ++d) acc[d] += p[j] * v[d];
    }
  }
  // ScalarOps::update with its exponentials 4 at a time; its last step calls the accumulate above.
  static void update(float* s, int nk, float scale, float& m, float& l, float* acc, const float* vf, int hd) {
    float mx = -INFINITY;
    for (int j = 0; j < kKeyTile; ++j) {
      s[j] = j < nk ? s[j] * scale : -INFINITY;
      mx = std::max(mx, s[j]);
    }
    if (mx > m) {
      const float alpha = exp_approx(m - mx);
      l = l * alpha;
      int d = 0;
      for (; d + 4 <= hd; d += 4) vst1q_f32(acc + d, vmulq_n_f32(vld1q_f32(acc + d), alpha));
      for (; d < hd; ++d) acc[d] = acc[d] * alpha;
      m = mx;
    }
    const int32x4_t lane = {0, 1, 2, 3};
    for (int g = 0; g < 4; ++g) {
      const uint32x4_t live = vcltq_s32(vaddq_s32(lane, vdupq_n_s32(4 * g)), vdupq_n_s32(nk));
      const float32x4_t p = exp4(vsubq_f32(vld1q_f32(s + 4 * g), vdupq_n_f32(m)));
      vst1q_f32(s + 4 * g, vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(p), live)));
    }
    l = l + tree16(s);
    accumulate(s, nk, acc, vf, hd);
  }
};

void attention_neon(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t bytes) {
  attention_run<NeonOps>(kv, rows, scratch, bytes);
}

}  // namespace

void fill_attention_neon(KernelTable& t) { t.attention = attention_neon; }

}  // namespace qinfer::kernels
