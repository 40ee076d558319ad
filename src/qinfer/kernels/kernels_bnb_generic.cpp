// Scalar kernels of qinfer's own types (bitsandbytes' NF4/FP4, LLM.int8):
// the references the AVX2/AVX-512 paths are tested against. All three take
// float activations (vec_dot_type F32), as bitsandbytes multiplies 16-bit
// activations; INT8 quantizes each activation row itself, per LLM.int8.
#include <vector>

#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels_bnb.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"

namespace qinfer::kernels {

namespace {

// Σ_b absmax_b · Σ_j book[code_j] · x_j in double.
float bnb4_dot(int64_t n, const void* w, const void* x, const float* book) {
  const auto* b = static_cast<const BlockBnb4*>(w);
  const auto* xf = static_cast<const float*>(x);
  double total = 0;
  for (int64_t ib = 0; ib < n / kQK_BNB4; ++ib, xf += kQK_BNB4) {
    double s = 0;
    for (int j = 0; j < kQK_BNB4 / 2; ++j) {
      s += double(book[b[ib].qs[j] >> 4]) * double(xf[2 * j]);
      s += double(book[b[ib].qs[j] & 15]) * double(xf[2 * j + 1]);
    }
    total += double(b[ib].absmax) * s;
  }
  return float(total);
}

template <VecDotFn F>
void matmul_float_act(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X, size_t xs,
                      int64_t n_tok, float* Y, int64_t ldy) {
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(X);
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = r0; r < r1; ++r) Y[t * ldy + r] = F(n, w + size_t(r) * ws, x + size_t(t) * xs);
}

}  // namespace

float vec_dot_nf4_f32_generic(int64_t n, const void* w, const void* x) { return bnb4_dot(n, w, x, kNF4Values); }
float vec_dot_fp4_f32_generic(int64_t n, const void* w, const void* x) { return bnb4_dot(n, w, x, kFP4Values); }
float vec_dot_int4_f32_generic(int64_t n, const void* w, const void* x) { return bnb4_dot(n, w, x, kINT4Values); }

Int8Scratch& int8_scratch(int64_t n) {
  thread_local Int8Scratch s;
  if (int64_t(s.q.size()) < n) {
    s.q.resize(size_t(n));
    s.outliers.resize(size_t(n));
  }
  return s;
}

float int8_threshold(const void* w_row) {
  Int8RowHeader h;
  std::memcpy(&h, w_row, sizeof h);
  return h.threshold;
}

float vec_dot_int8_f32_generic(int64_t n, const void* w, const void* x) {
  Int8Scratch& s = int8_scratch(n);
  const auto* xf = static_cast<const float*>(x);
  int64_t k = 0;
  const float amax = quantize_int8_activation(xf, n, int8_threshold(w), s.q.data(), s.outliers.data(), &k);
  return int8_row_dot(w, n, s.q.data(), amax, xf, s.outliers.data(), k);
}

void matmul_int8_generic(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X, size_t xs,
                         int64_t n_tok, float* Y, int64_t ldy) {
  if (r1 <= r0) return;
  const auto* w = static_cast<const uint8_t*>(W);
  const float threshold = int8_threshold(w + size_t(r0) * ws);
  Int8Scratch& s = int8_scratch(n);
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xf = reinterpret_cast<const float*>(static_cast<const uint8_t*>(X) + size_t(t) * xs);
    int64_t k = 0;
    const float amax = quantize_int8_activation(xf, n, threshold, s.q.data(), s.outliers.data(), &k);
    for (int64_t r = r0; r < r1; ++r) Y[t * ldy + r] = int8_row_dot(w + size_t(r) * ws, n, s.q.data(), amax, xf, s.outliers.data(), k);
  }
}

void fill_table_bnb_generic(KernelTable& t) {
  t.vec_dot[type_slot(TypeId::NF4)] = vec_dot_nf4_f32_generic;
  t.matmul[type_slot(TypeId::NF4)] = matmul_float_act<vec_dot_nf4_f32_generic>;
  t.vec_dot[type_slot(TypeId::FP4)] = vec_dot_fp4_f32_generic;
  t.matmul[type_slot(TypeId::FP4)] = matmul_float_act<vec_dot_fp4_f32_generic>;
  t.vec_dot[type_slot(TypeId::INT4)] = vec_dot_int4_f32_generic;
  t.matmul[type_slot(TypeId::INT4)] = matmul_float_act<vec_dot_int4_f32_generic>;
  t.vec_dot[type_slot(TypeId::INT8)] = vec_dot_int8_f32_generic;
  t.matmul[type_slot(TypeId::INT8)] = matmul_int8_generic;
}

}  // namespace qinfer::kernels
