// Minimal scalar dispatch for float types; SIMD paths and block types plug in here.
#include <cstdlib>
#include <cstring>
#include <string>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer::kernels {

namespace {
Isa g_isa = Isa::Scalar;
bool g_isa_set = false;

bool supported(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::Avx512: return supported(Isa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  }
  return false;
}

float dot_f32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(a[i]) * double(b[i]);
  return float(s);
}
float dot_f16(int64_t n, const void* w, const void* x) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(fp16_to_f32(a[i])) * double(fp16_to_f32(b[i]));
  return float(s);
}
float dot_bf16(int64_t n, const void* w, const void* x) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(bf16_to_f32(a[i])) * double(bf16_to_f32(b[i]));
  return float(s);
}
}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa best_supported_isa() {
  if (supported(Isa::Avx512)) return Isa::Avx512;
  if (supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa active_isa() {
  if (!g_isa_set) {
    g_isa = best_supported_isa();
    if (const char* env = std::getenv("QINFER_ISA")) {
      std::string s = env;
      Isa want = s == "scalar" ? Isa::Scalar : s == "avx2" ? Isa::Avx2 : s == "avx512" ? Isa::Avx512 : g_isa;
      if (supported(want)) g_isa = want;
    }
    g_isa_set = true;
  }
  return g_isa;
}

void set_isa(Isa isa) {
  if (!supported(isa)) throw Error(std::string("ISA ") + isa_name(isa) + " is not supported on this CPU");
  g_isa = isa;
  g_isa_set = true;
}

void convert_activations(TypeId type, const float* src, void* dst, int64_t n) {
  const TypeInfo& info = type_info(type);
  if (!info.from_float) throw Error(std::string("no activation conversion to ") + info.name);
  info.from_float(src, dst, n);
}

float vec_dot(TypeId wtype, int64_t n, const void* w_row, const void* x_row) {
  switch (wtype) {
    case TypeId::F32: return dot_f32(n, w_row, x_row);
    case TypeId::F16: return dot_f16(n, w_row, x_row);
    case TypeId::BF16: return dot_bf16(n, w_row, x_row);
    default: throw Error(std::string("no dot product kernel for ") + type_info(wtype).name);
  }
}

void matmul_rows(TypeId wtype, int64_t n, const void* W, size_t w_stride, int64_t r0, int64_t r1, const void* X,
                 size_t x_stride, int64_t n_tok, float* Y, int64_t ldy) {
  const auto* w = static_cast<const uint8_t*>(W);
  const auto* x = static_cast<const uint8_t*>(X);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t = 0; t < n_tok; ++t) Y[t * ldy + r] = vec_dot(wtype, n, w + r * w_stride, x + t * x_stride);
}

}  // namespace qinfer::kernels
