// NEON kernels of NF4/FP4/INT4 (the 16-entry float code book looked up with
// one 64-byte table lookup per four weights) and INT8 (widening multiplies,
// exact int32 sums), for every aarch64 CPU; the neon_dot path inherits them.
#include <arm_neon.h>

#include "qinfer/kernels/kernels_bnb.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"

namespace qinfer::kernels {
namespace {

// The code book as four 16-byte registers, for vqtbl4q_u8.
inline uint8x16x4_t book_table(const float* book) {
  const auto* b = reinterpret_cast<const uint8_t*>(book);
  return {vld1q_u8(b), vld1q_u8(b + 16), vld1q_u8(b + 32), vld1q_u8(b + 48)};
}

// book[c0..c3] for the codes in bytes 0..3 of `codes4` (each < 16): each
// float's four bytes are table bytes 4c .. 4c+3.
inline float32x4_t lookup4(const uint8x16x4_t& table, uint8x16_t codes4) {
  const uint8x16_t spread = vqtbl1q_u8(codes4, vcombine_u8(vcreate_u8(0x0101010100000000ull),
                                                           vcreate_u8(0x0303030302020202ull)));
  const uint8x16_t idx = vaddq_u8(vshlq_n_u8(spread, 2), vreinterpretq_u8_u32(vdupq_n_u32(0x03020100u)));
  return vreinterpretq_f32_u8(vqtbl4q_u8(table, idx));
}

// Σ_b absmax_b · Σ_j book[code_j] · x_j: per block, 64 codes (byte k holds
// element 2k in its high nibble, 2k+1 in its low) into four float chains.
template <const float* Book>
float bnb4_dot(int64_t n, const void* w, const void* x) {
  const auto* b = static_cast<const BlockBnb4*>(w);
  const auto* xf = static_cast<const float*>(x);
  const uint8x16x4_t table = book_table(Book);
  float32x4_t acc = vdupq_n_f32(0.0f);
  for (int64_t ib = 0; ib < n / kQK_BNB4; ++ib, xf += kQK_BNB4) {
    float32x4_t s[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int h = 0; h < 2; ++h) {
      const uint8x16_t q = vld1q_u8(b[ib].qs + 16 * h);
      // Element order: high nibble of byte k, then its low nibble.
      const uint8x16x2_t codes = vzipq_u8(vshrq_n_u8(q, 4), vandq_u8(q, vdupq_n_u8(15)));
      for (int half = 0; half < 2; ++half) {
        uint8x16_t c = codes.val[half];
        const float* xs = xf + 32 * h + 16 * half;
        for (int g = 0; g < 4; ++g, c = vextq_u8(c, c, 4))
          s[g] = vfmaq_f32(s[g], lookup4(table, c), vld1q_f32(xs + 4 * g));
      }
    }
    const float32x4_t block = vaddq_f32(vaddq_f32(s[0], s[1]), vaddq_f32(s[2], s[3]));
    acc = vfmaq_n_f32(acc, block, b[ib].absmax);
  }
  return vaddvq_f32(acc);
}

int32_t int8_codes_dot(const int8_t* a, const int8_t* w, int64_t n) {
  int32x4_t acc = vdupq_n_s32(0);
  for (int64_t j = 0; j < n; j += 16) {
    const int8x16_t va = vld1q_s8(a + j), vw = vld1q_s8(w + j);
    // Products of codes within ±127 fit int16; pairs add into int32 exactly.
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(va), vget_low_s8(vw)));
    acc = vpadalq_s16(acc, vmull_high_s8(va, vw));
  }
  return vaddvq_s32(acc);
}

#include "qinfer/kernels/bnb_driver.inc"

}  // namespace

void fill_table_bnb_neon(KernelTable& t) { fill_bnb_entries(t); }

}  // namespace qinfer::kernels
