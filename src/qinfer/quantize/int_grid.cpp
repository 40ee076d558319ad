#include "qinfer/quantize/int_grid.h"

#include <algorithm>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"

namespace qinfer {

namespace {

// The stored scale is fp16; rounding it first keeps file and engine equal.
float fp16_round(float x) { return fp16_to_f32(f32_to_fp16(x)); }

}  // namespace

IntGroupParams fit_int_group(const float* w, int64_t n, const IntGridSpec& spec) {
  const int maxq = spec.max_code();
  float lo = w[0], hi = w[0];
  for (int64_t i = 1; i < n; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  IntGroupParams p;
  if (spec.range == IntRange::AwqMinMax) {
    p.scale = fp16_round(std::max(hi - lo, 1e-5f) / float(maxq));
    if (p.scale == 0.0f) p.scale = fp16_round(1e-5f);  // 1e-5/maxq may flush in fp16 for many bits
    p.zero = int(std::clamp(-std::nearbyint(lo / p.scale), 0.0f, float(maxq)));
    return p;
  }
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  if (spec.sym) {
    hi = std::max(-lo, hi);
    if (lo < 0) lo = -hi;
  }
  if (lo == 0.0f && hi == 0.0f) lo = -1.0f, hi = 1.0f;
  p.scale = fp16_round((hi - lo) / float(maxq));
  if (p.scale == 0.0f) p.scale = fp16_round(1e-5f);
  p.zero = spec.sym ? (maxq + 1) / 2 : int(std::clamp(std::nearbyint(-lo / p.scale), 0.0f, float(maxq)));
  if (p.zero == 0) {
    // AutoGPTQ's v1 checkpoints store zero − 1, so a zero of 0 cannot be
    // written (it would read back as 2^bits): the grid moves up one step.
    p.zero = 1;
    p.scale = fp16_round(hi / float(maxq - 1));
    if (p.scale == 0.0f) p.scale = fp16_round(1e-5f);
  }
  return p;
}

int int_code(const IntGroupParams& p, int max_code, float w) {
  const float q = std::nearbyint(w / p.scale) + float(p.zero);
  return q <= 0.0f ? 0 : q >= float(max_code) ? max_code : int(q);
}

std::vector<float> IntQuantized::dequantize() const {
  std::vector<float> w(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) w[size_t(r * cols + c)] = int_value(at(r, c), codes[size_t(r * cols + c)]);
  return w;
}

IntQuantized int_quantize_rtn(const float* w, int64_t rows, int64_t cols, const IntGridSpec& spec) {
  IntGridRounder r(rows, cols, spec);
  IntQuantized q = r.take();
  const int64_t G = spec.group;
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t g = 0; g < cols / G; ++g) {
      const float* x = w + row * cols + g * G;
      const IntGroupParams p = fit_int_group(x, G, spec);
      q.params[size_t(row * (cols / G) + g)] = p;
      for (int64_t k = 0; k < G; ++k) q.codes[size_t(row * cols + g * G + k)] = uint8_t(int_code(p, spec.max_code(), x[k]));
    }
  return q;
}

IntGridRounder::IntGridRounder(int64_t rows, int64_t cols, const IntGridSpec& spec) {
  if (spec.bits < 2 || spec.bits > 8) throw InputError("bits " + std::to_string(spec.bits) + ": 2..8 supported");
  if (spec.group <= 0 || cols % spec.group != 0)
    throw InputError("rows of " + std::to_string(cols) + " are not a multiple of the group size " +
                     std::to_string(spec.group));
  q_.rows = rows;
  q_.cols = cols;
  q_.spec = spec;
  q_.codes.assign(size_t(rows * cols), 0);
  q_.params.assign(size_t(rows * (cols / spec.group)), IntGroupParams{});
}

void IntGridRounder::fix_group(int64_t row, int64_t group, const float* w, const float*, ElementGrid* grids) {
  const IntGroupParams p = fit_int_group(w, q_.spec.group, q_.spec);
  q_.params[size_t(row * (q_.cols / q_.spec.group) + group)] = p;
  // int_value(p, c) = scale·c − scale·zero: base and step of the code grid.
  // nearest_code then rounds (w − base)/step, which equals round(w/scale) + zero
  // up to float rounding of the base; GPTQ's own choice is what is stored.
  for (int64_t k = 0; k < q_.spec.group; ++k) grids[k] = {-p.scale * float(p.zero), p.scale};
}

}  // namespace qinfer
