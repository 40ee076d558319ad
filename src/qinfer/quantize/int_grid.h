// The plain integer grids of Hugging Face's GPTQ and AWQ checkpoints: per
// group of `group` consecutive input columns of one row, a scale and an
// integer zero point, w ≈ scale · (q − zero) with q in 0 .. 2^bits − 1.
// The scale is kept at fp16 precision (what the checkpoint stores), so the
// weights qinfer computes with equal, bit for bit, what a loader
// dequantizes from the file.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "qinfer/quantize/gptq.h"

namespace qinfer {

// How a group's range is found:
//   GptqMinMax — AutoGPTQ's Quantizer.find_params: the range always includes
//                0; sym puts the zero at (maxq + 1) / 2 around ±max|w|.
//                The zero is at least 1 (v1 checkpoints store zero − 1).
//   AwqMinMax  — AutoAWQ's pseudo_quantize_tensor (zero_point): the group's
//                own min and max, scale ≥ 1e-5, zero clamped to 0 .. maxq.
enum class IntRange { GptqMinMax, AwqMinMax };

struct IntGridSpec {
  int bits = 4;
  int64_t group = 128;     // columns per group
  bool sym = false;        // GptqMinMax only
  IntRange range = IntRange::GptqMinMax;
  int max_code() const { return (1 << bits) - 1; }
};

struct IntGroupParams {
  float scale = 1;         // an fp16 value
  int zero = 0;            // 0 .. maxq
};

IntGroupParams fit_int_group(const float* w, int64_t n, const IntGridSpec& spec);
inline float int_value(const IntGroupParams& p, int q) { return p.scale * float(q - p.zero); }
int int_code(const IntGroupParams& p, int max_code, float w);

// One weight quantized onto the grid: rows × cols codes, row-major (row =
// output channel, GGUF order), and rows × (cols / group) parameters.
struct IntQuantized {
  int64_t rows = 0, cols = 0;
  IntGridSpec spec;
  std::vector<uint8_t> codes;
  std::vector<IntGroupParams> params;  // [row][group]
  const IntGroupParams& at(int64_t r, int64_t c) const { return params[size_t(r * (cols / spec.group) + c / spec.group)]; }
  // The weights the codes stand for (rows × cols floats).
  std::vector<float> dequantize() const;
};

// Round to nearest on the grid (no calibration).
IntQuantized int_quantize_rtn(const float* w, int64_t rows, int64_t cols, const IntGridSpec& spec);

// GPTQ's rounding step for the grid. InputError when cols % group != 0.
class IntGridRounder : public GroupRounder {
 public:
  IntGridRounder(int64_t rows, int64_t cols, const IntGridSpec& spec);
  int64_t group_size() const override { return q_.spec.group; }
  int max_code() const override { return q_.spec.max_code(); }
  void fix_group(int64_t row, int64_t group, const float* w, const float* importance, ElementGrid* grids) override;
  void set_code(int64_t row, int64_t col, int code) override { q_.codes[size_t(row * q_.cols + col)] = uint8_t(code); }
  IntQuantized take() { return std::move(q_); }

 private:
  IntQuantized q_;
};

}  // namespace qinfer
