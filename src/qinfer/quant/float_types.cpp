// F32, F16 and BF16 rows of the type registry.
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/float_types.h"

namespace qinfer {

namespace {
void f32_to_float(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }
void f32_from_float(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }
void f16_to_float(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
}
void f16_from_float(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
}
void bf16_to_float(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
}
void bf16_from_float(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
}
// TypeInfo::quantize for the float types: a plain conversion, as ggml_quantize_chunk
// does (the importance vector does not apply; NaN/Inf convert as they are).
template <FromFloatFn Convert, size_t Bytes>
size_t convert_rows(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
  Convert(src, dst, nrows * n_per_row);
  return size_t(nrows * n_per_row) * Bytes;
}
}  // namespace

const TypeInfo kTypeF32{TypeId::F32, "f32", 1, 4, false, f32_to_float, f32_from_float, TypeId::F32,
                        convert_rows<f32_from_float, 4>};
const TypeInfo kTypeF16{TypeId::F16, "f16", 1, 2, false, f16_to_float, f16_from_float, TypeId::F16,
                        convert_rows<f16_from_float, 2>};
const TypeInfo kTypeBF16{TypeId::BF16, "bf16", 1, 2, false, bf16_to_float, bf16_from_float, TypeId::BF16,
                         convert_rows<bf16_from_float, 2>};

}  // namespace qinfer
