#include "qinfer/quant/int8_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "qinfer/core/error.h"

#pragma GCC optimize("fp-contract=off")

namespace qinfer {

namespace {

int8_t round_code(float v) {
  const float r = std::nearbyint(v);  // torch.round: half to even
  if (r != r) return 0;               // NaN (0·Inf): no information
  return int8_t(std::clamp(r, -127.0f, 127.0f));
}

// x · 127 / amax rounded, as bitsandbytes (float32 127/amax, then the
// product); when 127/amax overflows (subnormal amax) in float64 instead, so
// tiny rows still get codes rather than Inf/NaN.
void code_row(const float* x, int64_t n, float amax, int8_t* q) {
  if (amax <= 0) {
    std::fill(q, q + n, int8_t(0));
    return;
  }
  const float f = 127.0f / amax;
  if (std::isfinite(f)) {
    for (int64_t j = 0; j < n; ++j) q[j] = round_code(x[j] * f);
  } else {
    const double fd = 127.0 / double(amax);
    for (int64_t j = 0; j < n; ++j) q[j] = int8_t(std::clamp(std::nearbyint(double(x[j]) * fd), -127.0, 127.0));
  }
}

}  // namespace

void quantize_int8_rows(const float* x, void* dst, int64_t nrows, int64_t n, float threshold) {
  if (n % kQK_INT8 != 0) throw InputError("rows of " + std::to_string(n) + " are not a multiple of 32 (INT8)");
  auto* out = static_cast<uint8_t*>(dst);
  const size_t row_bytes = sizeof(Int8RowHeader) + size_t(n);
  for (int64_t r = 0; r < nrows; ++r, x += n, out += row_bytes) {
    // One scale per row: a NaN or Inf would spoil the whole row, so it is refused.
    float amax = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (!std::isfinite(x[j]))
        throw InputError("INT8: row " + std::to_string(r) + " holds a NaN or Inf value at column " + std::to_string(j));
      amax = std::max(amax, std::fabs(x[j]));
    }
    const Int8RowHeader h{amax, threshold};
    std::memcpy(out, &h, sizeof h);
    code_row(x, n, amax, reinterpret_cast<int8_t*>(out + sizeof h));
  }
}

void dequantize_int8_row(const void* row, float* y, int64_t n) {
  Int8RowHeader h;
  std::memcpy(&h, row, sizeof h);
  const auto* q = reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(row) + sizeof h);
  const float s = h.scb / 127.0f;
  for (int64_t j = 0; j < n; ++j) y[j] = float(q[j]) * s;
}

float quantize_int8_activation(const float* x, int64_t n, float threshold, int8_t* q, int32_t* outliers,
                               int64_t* n_outliers) {
  int64_t k = 0;
  float amax = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float a = std::fabs(x[j]);
    if (threshold > 0 && a >= threshold)
      outliers[k++] = int32_t(j);
    else
      amax = std::max(amax, a);
  }
  *n_outliers = k;
  code_row(x, n, amax, q);
  for (int64_t i = 0; i < k; ++i) q[outliers[i]] = 0;
  return amax;
}

float int8_row_dot(const void* w_row, int64_t n, const int8_t* qa, float a_max, const float* x, const int32_t* outliers,
                   int64_t n_outliers) {
  Int8RowHeader h;
  std::memcpy(&h, w_row, sizeof h);
  const auto* qw = reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(w_row) + sizeof h);
  int32_t acc = 0;
  for (int64_t j = 0; j < n; ++j) acc += int32_t(qa[j]) * int32_t(qw[j]);
  return int8_row_finish(w_row, acc, a_max, x, outliers, n_outliers);
}

float int8_row_finish(const void* w_row, int32_t acc, float a_max, const float* x, const int32_t* outliers,
                      int64_t n_outliers) {
  Int8RowHeader h;
  std::memcpy(&h, w_row, sizeof h);
  const auto* qw = reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(w_row) + sizeof h);
  const float ws = h.scb / 127.0f;
  float y = float(acc) * ((a_max / 127.0f) * ws);
  for (int64_t i = 0; i < n_outliers; ++i) y += x[outliers[i]] * (float(qw[outliers[i]]) * ws);
  return y;
}

namespace {
void to_float(const void* src, float* dst, int64_t n) { dequantize_int8_row(src, dst, n); }
void from_float(const float* src, void* dst, int64_t n) { quantize_int8_rows(src, dst, 1, n, kInt8DefaultThreshold); }
size_t quantize(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
  quantize_int8_rows(src, dst, nrows, n_per_row, kInt8DefaultThreshold);
  return size_t(nrows) * (sizeof(Int8RowHeader) + size_t(n_per_row));
}
}  // namespace

const TypeInfo kTypeINT8{TypeId::INT8, "int8", kQK_INT8, kQK_INT8, true, to_float, from_float, TypeId::F32, quantize,
                         sizeof(Int8RowHeader)};

}  // namespace qinfer
