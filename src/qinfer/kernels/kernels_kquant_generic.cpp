// Scalar reference dot products of the k-quants (Q8_K activations) and IQ4_NL
// (Q8_0 activations): ggml's *_generic integer arithmetic, one exact int32 sum
// per super-block (ggml splits it over 8 lanes before scaling; the integers are
// the same, only the float rounding of the scaled partial sums differs).
// Every super-block sum is below 2^31: at most 256·|code|·127·|scale|, largest
// for Q6_K (256·32·127·128 ≈ 1.3e8).
#include "qinfer/core/fp16.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/quant/iq4_nl.h"
#include "qinfer/quant/q2_k.h"
#include "qinfer/quant/q3_k.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/q6_k.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_k.h"

namespace qinfer::kernels {

namespace {

// Σ over the 16 activations of sub-block g (0..15) times the 16 codes given.
int dot16(const int8_t* q8, const int* codes) {
  int s = 0;
  for (int l = 0; l < 16; ++l) s += q8[l] * codes[l];
  return s;
}

// Six-bit Q3_K scale code of sub-block j (0..15), as stored (0..63; value − 32).
int q3_k_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
  const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return lo | hi << 4;
}

}  // namespace

float vec_dot_q2_k_q8_k_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float sumf = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const uint8_t* sc = a[ib].scales;
    int summs = 0;
    for (int g = 0; g < 16; ++g) summs += b[ib].bsums[g] * (sc[g] >> 4);
    int isum = 0;
    for (int g = 0; g < 16; ++g) {
      // Sub-block g: half h = g/8, shift 2·((g/2)%4), bytes 16·(g%2) of the half.
      const uint8_t* q2 = a[ib].qs + 32 * (g / 8) + 16 * (g % 2);
      const int shift = 2 * ((g / 2) % 4);
      int codes[16];
      for (int l = 0; l < 16; ++l) codes[l] = (q2[l] >> shift) & 3;
      isum += (sc[g] & 15) * dot16(b[ib].qs + 16 * g, codes);
    }
    const float dall = b[ib].d * fp16_to_f32(a[ib].d);
    const float dmin = b[ib].d * fp16_to_f32(a[ib].dmin);
    sumf += dall * float(isum) - dmin * float(summs);
  }
  return sumf;
}

float vec_dot_q3_k_q8_k_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float sumf = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    int isum = 0;
    for (int g = 0; g < 16; ++g) {
      const int chunk = g / 2;  // 32-element chunk: its high bits are bit `chunk` of hmask[0..31]
      const uint8_t* q3 = a[ib].qs + 32 * (g / 8) + 16 * (g % 2);
      const uint8_t* hm = a[ib].hmask + 16 * (g % 2);
      const int shift = 2 * (chunk % 4);
      int codes[16];
      for (int l = 0; l < 16; ++l) codes[l] = ((q3[l] >> shift) & 3) - ((hm[l] >> chunk) & 1 ? 0 : 4);
      isum += (q3_k_scale(a[ib].scales, g) - 32) * dot16(b[ib].qs + 16 * g, codes);
    }
    sumf += fp16_to_f32(a[ib].d) * b[ib].d * float(isum);
  }
  return sumf;
}

float vec_dot_q4_k_q8_k_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float sumf = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    int isum = 0, summs = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, a[ib].scales, &sc, &m);
      summs += m * (b[ib].bsums[2 * j] + b[ib].bsums[2 * j + 1]);
      const uint8_t* q4 = a[ib].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int s = 0;
      for (int l = 0; l < 32; ++l) s += b[ib].qs[32 * j + l] * ((q4[l] >> shift) & 15);
      isum += sc * s;
    }
    const float d = fp16_to_f32(a[ib].d) * b[ib].d;
    const float dmin = fp16_to_f32(a[ib].dmin) * b[ib].d;
    sumf += d * float(isum) - dmin * float(summs);
  }
  return sumf;
}

float vec_dot_q5_k_q8_k_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float sumf = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    int isum = 0, summs = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, a[ib].scales, &sc, &m);
      summs += m * (b[ib].bsums[2 * j] + b[ib].bsums[2 * j + 1]);
      const uint8_t* q4 = a[ib].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int s = 0;
      for (int l = 0; l < 32; ++l)
        s += b[ib].qs[32 * j + l] * (((q4[l] >> shift) & 15) | ((a[ib].qh[l] >> j) & 1) << 4);
      isum += sc * s;
    }
    const float d = fp16_to_f32(a[ib].d) * b[ib].d;
    const float dmin = fp16_to_f32(a[ib].dmin) * b[ib].d;
    sumf += d * float(isum) - dmin * float(summs);
  }
  return sumf;
}

float vec_dot_q6_k_q8_k_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float sumf = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    int isum = 0;
    for (int g = 0; g < 16; ++g) {
      // Sub-block g: half h = g/8, pass p = (g/2)%4 (ql bytes 32·(p&1), nibble p>>1, qh bits 2p).
      const int h = g / 8, p = (g / 2) % 4, off = 16 * (g % 2);
      const uint8_t* ql = a[ib].ql + 64 * h + 32 * (p & 1) + off;
      const uint8_t* qh = a[ib].qh + 32 * h + off;
      int codes[16];
      for (int l = 0; l < 16; ++l) codes[l] = (((ql[l] >> (4 * (p >> 1))) & 15) | ((qh[l] >> (2 * p)) & 3) << 4) - 32;
      isum += a[ib].scales[g] * dot16(b[ib].qs + 16 * g, codes);
    }
    sumf += fp16_to_f32(a[ib].d) * b[ib].d * float(isum);
  }
  return sumf;
}

float vec_dot_iq4_nl_q8_0_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockIQ4_NL*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sumf = 0;
  for (int64_t ib = 0; ib < n / kQK4_NL; ++ib) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += b[ib].qs[j] * kIQ4NLValues[a[ib].qs[j] & 15];
      sumi += b[ib].qs[j + 16] * kIQ4NLValues[a[ib].qs[j] >> 4];
    }
    sumf += fp16_to_f32(a[ib].d) * fp16_to_f32(b[ib].d) * float(sumi);
  }
  return sumf;
}

}  // namespace qinfer::kernels
