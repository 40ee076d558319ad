// Scalar kernels: the reference every SIMD path is tested against, and the
// fallback for CPUs without AVX2.
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q4_1.h"
#include "qinfer/quant/q5_0.h"
#include "qinfer/quant/q5_1.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_1.h"
#include "qinfer/quant/q8_k.h"

namespace qinfer::kernels {

namespace {
uint32_t load_qh(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
}  // namespace

float vec_dot_f32_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(a[i] * b[i]);
  return float(s);
}

float vec_dot_f16_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(fp16_to_f32(a[i]) * fp16_to_f32(b[i]));
  return float(s);
}

float vec_dot_bf16_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(bf16_to_f32(a[i]) * bf16_to_f32(b[i]));
  return float(s);
}

float vec_dot_q4_0_q8_0_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0;
  for (int64_t ib = 0; ib < n / 32; ++ib) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += ((a[ib].qs[j] & 0x0F) - 8) * b[ib].qs[j];
      sumi += ((a[ib].qs[j] >> 4) - 8) * b[ib].qs[j + 16];
    }
    sum += float(sumi) * (fp16_to_f32(a[ib].d) * fp16_to_f32(b[ib].d));
  }
  return sum;
}

float vec_dot_q4_1_q8_1_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  float sum = 0;
  for (int64_t ib = 0; ib < n / 32; ++ib) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += (a[ib].qs[j] & 0x0F) * b[ib].qs[j];
      sumi += (a[ib].qs[j] >> 4) * b[ib].qs[j + 16];
    }
    sum += float(sumi) * (fp16_to_f32(a[ib].d) * fp16_to_f32(b[ib].d)) + fp16_to_f32(a[ib].m) * fp16_to_f32(b[ib].s);
  }
  return sum;
}

float vec_dot_q5_0_q8_0_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0;
  for (int64_t ib = 0; ib < n / 32; ++ib) {
    const uint32_t qh = load_qh(a[ib].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int h0 = int((qh >> j) << 4) & 0x10;
      const int h1 = int(qh >> (j + 12)) & 0x10;
      sumi += (((a[ib].qs[j] & 0x0F) | h0) - 16) * b[ib].qs[j];
      sumi += (((a[ib].qs[j] >> 4) | h1) - 16) * b[ib].qs[j + 16];
    }
    sum += float(sumi) * (fp16_to_f32(a[ib].d) * fp16_to_f32(b[ib].d));
  }
  return sum;
}

float vec_dot_q5_1_q8_1_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  float sum = 0;
  for (int64_t ib = 0; ib < n / 32; ++ib) {
    const uint32_t qh = load_qh(a[ib].qh);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int h0 = int((qh >> j) << 4) & 0x10;
      const int h1 = int(qh >> (j + 12)) & 0x10;
      sumi += ((a[ib].qs[j] & 0x0F) | h0) * b[ib].qs[j];
      sumi += ((a[ib].qs[j] >> 4) | h1) * b[ib].qs[j + 16];
    }
    sum += float(sumi) * (fp16_to_f32(a[ib].d) * fp16_to_f32(b[ib].d)) + fp16_to_f32(a[ib].m) * fp16_to_f32(b[ib].s);
  }
  return sum;
}

float vec_dot_q8_0_q8_0_generic(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0;
  for (int64_t ib = 0; ib < n / 32; ++ib) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += a[ib].qs[j] * b[ib].qs[j];
    sum += float(sumi) * (fp16_to_f32(a[ib].d) * fp16_to_f32(b[ib].d));
  }
  return sum;
}

namespace {

template <VecDotFn F>
void matmul_generic(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X, size_t xs,
                    int64_t n_tok, float* Y, int64_t ldy) {
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(X);
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = r0; r < r1; ++r) Y[t * ldy + r] = F(n, w + size_t(r) * ws, x + size_t(t) * xs);
}

void cvt_f32(const float* s, void* d, int64_t n) { std::memcpy(d, s, size_t(n) * sizeof(float)); }
void cvt_f16(const float* s, void* d, int64_t n) {
  auto* o = static_cast<uint16_t*>(d);
  for (int64_t i = 0; i < n; ++i) o[i] = f32_to_fp16(s[i]);
}
void cvt_bf16(const float* s, void* d, int64_t n) {
  auto* o = static_cast<uint16_t*>(d);
  for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(s[i]);
}
void cvt_q8_0(const float* s, void* d, int64_t n) { quantize_row_q8_0_x86(s, static_cast<BlockQ8_0*>(d), n); }
void cvt_q8_1(const float* s, void* d, int64_t n) { quantize_row_q8_1_x86(s, static_cast<BlockQ8_1*>(d), n); }
void cvt_q8_k(const float* s, void* d, int64_t n) { quantize_row_q8_k_ref(s, static_cast<BlockQ8_K*>(d), n); }

template <VecDotFn F>
void set(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = F;
  t.matmul[uint32_t(id)] = matmul_generic<F>;
}

}  // namespace

void fill_table_generic(KernelTable& t) {
  set<vec_dot_f32_generic>(t, TypeId::F32);
  set<vec_dot_f16_generic>(t, TypeId::F16);
  set<vec_dot_bf16_generic>(t, TypeId::BF16);
  set<vec_dot_q4_0_q8_0_generic>(t, TypeId::Q4_0);
  set<vec_dot_q4_1_q8_1_generic>(t, TypeId::Q4_1);
  set<vec_dot_q5_0_q8_0_generic>(t, TypeId::Q5_0);
  set<vec_dot_q5_1_q8_1_generic>(t, TypeId::Q5_1);
  set<vec_dot_q8_0_q8_0_generic>(t, TypeId::Q8_0);
  set<vec_dot_q2_k_q8_k_generic>(t, TypeId::Q2_K);
  set<vec_dot_q3_k_q8_k_generic>(t, TypeId::Q3_K);
  set<vec_dot_q4_k_q8_k_generic>(t, TypeId::Q4_K);
  set<vec_dot_q5_k_q8_k_generic>(t, TypeId::Q5_K);
  set<vec_dot_q6_k_q8_k_generic>(t, TypeId::Q6_K);
  set<vec_dot_iq4_nl_q8_0_generic>(t, TypeId::IQ4_NL);
  t.convert[uint32_t(TypeId::F32)] = cvt_f32;
  t.convert[uint32_t(TypeId::F16)] = cvt_f16;
  t.convert[uint32_t(TypeId::BF16)] = cvt_bf16;
  t.convert[uint32_t(TypeId::Q8_0)] = cvt_q8_0;
  t.convert[uint32_t(TypeId::Q8_1)] = cvt_q8_1;
  t.convert[uint32_t(TypeId::Q8_K)] = cvt_q8_k;
}

}  // namespace qinfer::kernels
