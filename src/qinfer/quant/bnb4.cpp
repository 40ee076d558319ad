#include "qinfer/quant/bnb4.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "qinfer/core/error.h"

// float32 arithmetic operation by operation, as torch and bitsandbytes compute.
#pragma GCC optimize("fp-contract=off")

namespace qinfer {

// bitsandbytes get_4bit_type("nf4"): quantiles of N(0, 1) with equal mass per bin.
const float kNF4Values[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// get_4bit_type("fp4"): E2M1 with bias 2 and a subnormal 0.0625, by bit
// pattern, divided (in float32) by the largest magnitude 12.
const float kFP4Values[16] = {
    0.0f / 12.0f,  0.0625f / 12.0f,  8.0f / 12.0f,  12.0f / 12.0f,  4.0f / 12.0f,  6.0f / 12.0f,  2.0f / 12.0f,  3.0f / 12.0f,
    -0.0f / 12.0f, -0.0625f / 12.0f, -8.0f / 12.0f, -12.0f / 12.0f, -4.0f / 12.0f, -6.0f / 12.0f, -2.0f / 12.0f, -3.0f / 12.0f,
};

// get_4bit_type("int4"), divided by 7 in float32.
const float kINT4Values[16] = {7.0f / 7.0f,  6.0f / 7.0f,  5.0f / 7.0f,  4.0f / 7.0f,  3.0f / 7.0f,  2.0f / 7.0f,
                               1.0f / 7.0f,  0.0f / 7.0f,  -0.0f / 7.0f, -1.0f / 7.0f, -2.0f / 7.0f, -3.0f / 7.0f,
                               -4.0f / 7.0f, -5.0f / 7.0f, -6.0f / 7.0f, -7.0f / 7.0f};

namespace {

// torch.linspace(start, end, steps) in float32 (the scalar CPU kernel: the
// first half counts up from start, the second half down from end).
std::vector<float> linspace_f32(float start, float end, int steps) {
  std::vector<float> v(static_cast<size_t>(steps));
  const float step = (end - start) / float(steps - 1);
  const int halfway = steps / 2;
  for (int i = 0; i < steps; ++i)
    v[size_t(i)] = i < halfway ? start + step * float(i) : end - step * float(steps - i - 1);
  return v;
}

// Index of the first of the sorted midpoints that is ≥ v, i.e. torch.bucketize
// (right=False) of v against the midpoints of a sorted code book.
int bucketize(const float* mid, int n_mid, float v) {
  return int(std::lower_bound(mid, mid + n_mid, v) - mid);
}

struct Nf4Midpoints {
  float m[15];
  Nf4Midpoints() {
    for (int i = 0; i < 15; ++i) m[i] = (kNF4Values[i] + kNF4Values[i + 1]) / 2.0f;
  }
};

// bitsandbytes' dQuantizeNF4 decision tree is exactly "the midpoint rule":
// its thresholds are the midpoints of neighbouring code values, x on a
// threshold goes to the lower code.
uint8_t nf4_code(float x) {
  static const Nf4Midpoints mids;
  return uint8_t(bucketize(mids.m, 15, x));
}

// bitsandbytes' dQuantizeFP4: sign bit, then a search on |x| with thresholds
// at the midpoints of the magnitudes (x on a threshold goes to the lower).
uint8_t fp4_code(float x) {
  const uint8_t sign = x < 0 ? 8 : 0;
  const float a = std::fabs(x);
  uint8_t m;
  if (a > 0.29166667f)
    m = a > 0.583333f ? (a > 0.8333333f ? 0b011 : 0b010) : (a > 0.4166667f ? 0b101 : 0b100);
  else if (a > 0.0859375f)
    m = a > 0.20833333f ? 0b111 : 0b110;
  else
    m = a > 0.00260417f ? 0b001 : 0b000;
  return uint8_t(m | sign);
}

// The nearest of −7..7 / 7 (ties away from zero by the rounding of x·7), as
// its code: k ≥ 0 → 7 − k, k < 0 → 8 − k.
uint8_t int4_code(float x) {
  const int k = int(std::lround(std::clamp(x, -1.0f, 1.0f) * 7.0f));
  return uint8_t(k >= 0 ? 7 - k : 8 - k);
}

template <uint8_t (*Code)(float)>
void quantize_row(const float* x, BlockBnb4* y, int64_t k) {
  for (int64_t b = 0; b < k / kQK_BNB4; ++b, x += kQK_BNB4) {
    float amax = 0;
    for (int j = 0; j < kQK_BNB4; ++j) amax = std::max(amax, std::fabs(x[j]));
    // bitsandbytes: x · (1 / max(absmax, 1e-38)), clamped to [-1, 1].
    const float inv = 1.0f / std::max(amax, 1e-38f);
    y[b].absmax = amax;
    for (int j = 0; j < kQK_BNB4 / 2; ++j) {
      const float a = std::clamp(x[2 * j] * inv, -1.0f, 1.0f), c = std::clamp(x[2 * j + 1] * inv, -1.0f, 1.0f);
      y[b].qs[j] = uint8_t(Code(a) << 4 | Code(c));
    }
  }
}

template <const float* Book>
void to_float(const void* src, float* dst, int64_t n) {
  dequantize_row_bnb4(static_cast<const BlockBnb4*>(src), Book, dst, n);
}
void nf4_from_float(const float* src, void* dst, int64_t n) { quantize_row_nf4(src, static_cast<BlockBnb4*>(dst), n); }
void fp4_from_float(const float* src, void* dst, int64_t n) { quantize_row_fp4(src, static_cast<BlockBnb4*>(dst), n); }
void int4_from_float(const float* src, void* dst, int64_t n) { quantize_row_int4(src, static_cast<BlockBnb4*>(dst), n); }

template <void (*Row)(const float*, BlockBnb4*, int64_t)>
size_t quantize_rows(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
  if (n_per_row % kQK_BNB4 != 0)
    throw InputError("rows of " + std::to_string(n_per_row) + " are not a multiple of the 4-bit block of 64");
  auto* y = static_cast<BlockBnb4*>(dst);
  const int64_t nb = n_per_row / kQK_BNB4;
  for (int64_t r = 0; r < nrows; ++r) Row(src + r * n_per_row, y + r * nb, n_per_row);
  return size_t(nrows * nb) * sizeof(BlockBnb4);
}

}  // namespace

const std::vector<float>& bnb_dynamic_map() {
  static const std::vector<float> map = [] {
    // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for
    // exponent i the fraction means of linspace(0.1, 1, 2^i + 1), scaled by
    // 10^(i − 6), both signs; then 0 and 1; sorted.
    std::vector<float> data;
    for (int i = 0; i < 7; ++i) {
      const std::vector<float> b = linspace_f32(0.1f, 1.0f, (1 << i) + 1);
      const float scale = float(std::pow(10.0, double(i - 6)));
      for (size_t k = 0; k + 1 < b.size(); ++k) {
        const float mean = (b[k] + b[k + 1]) / 2.0f;
        data.push_back(scale * mean);
        data.push_back(-scale * mean);
      }
    }
    data.push_back(0.0f);
    data.push_back(1.0f);
    std::sort(data.begin(), data.end());
    return data;
  }();
  return map;
}

void quantize_row_nf4(const float* x, BlockBnb4* y, int64_t k) { quantize_row<nf4_code>(x, y, k); }
void quantize_row_fp4(const float* x, BlockBnb4* y, int64_t k) { quantize_row<fp4_code>(x, y, k); }
void quantize_row_int4(const float* x, BlockBnb4* y, int64_t k) { quantize_row<int4_code>(x, y, k); }

void dequantize_row_bnb4(const BlockBnb4* x, const float* book, float* y, int64_t k) {
  for (int64_t b = 0; b < k / kQK_BNB4; ++b, y += kQK_BNB4)
    for (int j = 0; j < kQK_BNB4 / 2; ++j) {
      y[2 * j] = book[x[b].qs[j] >> 4] * x[b].absmax;
      y[2 * j + 1] = book[x[b].qs[j] & 15] * x[b].absmax;
    }
}

std::vector<float> double_quantize(const BlockBnb4* blocks, int64_t n_blocks, BlockBnb4DQ* dq) {
  const std::vector<float>& map = bnb_dynamic_map();
  std::vector<float> mids(map.size() - 1);
  for (size_t i = 0; i + 1 < map.size(); ++i) mids[i] = (map[i] + map[i + 1]) / 2.0f;
  double sum = 0;
  for (int64_t b = 0; b < n_blocks; ++b) sum += blocks[b].absmax;
  const float offset = n_blocks > 0 ? float(sum / double(n_blocks)) : 0.0f;
  std::vector<float> state(size_t(double_quant_state_size(n_blocks)));
  state[0] = offset;
  for (int64_t g = 0; g * kBnbNestedBlock < n_blocks; ++g) {
    const int64_t b0 = g * kBnbNestedBlock, b1 = std::min(n_blocks, b0 + kBnbNestedBlock);
    float amax = 0;
    for (int64_t b = b0; b < b1; ++b) amax = std::max(amax, std::fabs(blocks[b].absmax - offset));
    state[size_t(1 + g)] = amax;
    const float inv = 1.0f / std::max(amax, 1e-38f);
    for (int64_t b = b0; b < b1; ++b) {
      const float v = std::clamp((blocks[b].absmax - offset) * inv, -1.0f, 1.0f);
      dq[b].qabsmax = uint8_t(bucketize(mids.data(), int(mids.size()), v));
      std::memcpy(dq[b].qs, blocks[b].qs, sizeof dq[b].qs);
    }
  }
  return state;
}

void expand_double_quant(const BlockBnb4DQ* dq, int64_t n_blocks, const float* state, int64_t n_state,
                         BlockBnb4* out) {
  if (n_state < double_quant_state_size(n_blocks))
    throw InputError("double-quant state of " + std::to_string(n_state) + " values is too short for " +
                     std::to_string(n_blocks) + " blocks");
  const std::vector<float>& map = bnb_dynamic_map();
  const float offset = state[0];
  for (int64_t b = 0; b < n_blocks; ++b) {
    out[b].absmax = map[dq[b].qabsmax] * state[1 + b / kBnbNestedBlock] + offset;
    std::memcpy(out[b].qs, dq[b].qs, sizeof out[b].qs);
  }
}

TypeId double_quant_base(TypeId type) {
  return type == TypeId::NF4_DQ ? TypeId::NF4 : type == TypeId::FP4_DQ ? TypeId::FP4 : type;
}

DoubleQuantTensor double_quantize_tensor(const float* w, int64_t rows, int64_t cols, TypeId dq_type) {
  if (!is_double_quant(dq_type)) throw Error("double_quantize_tensor: not a double-quant type");
  const int64_t nb = rows * (cols / kQK_BNB4);
  std::vector<BlockBnb4> blocks(static_cast<size_t>(nb));
  for (int64_t r = 0; r < rows; ++r) {
    BlockBnb4* y = blocks.data() + r * (cols / kQK_BNB4);
    if (dq_type == TypeId::NF4_DQ)
      quantize_row_nf4(w + r * cols, y, cols);
    else
      quantize_row_fp4(w + r * cols, y, cols);
  }
  DoubleQuantTensor out;
  out.blocks.resize(size_t(nb) * sizeof(BlockBnb4DQ));
  out.state = double_quantize(blocks.data(), nb, reinterpret_cast<BlockBnb4DQ*>(out.blocks.data()));
  return out;
}

const TypeInfo kTypeNF4{TypeId::NF4, "nf4", kQK_BNB4, sizeof(BlockBnb4), true, to_float<kNF4Values>,
                        nf4_from_float, TypeId::F32, quantize_rows<quantize_row_nf4>};
const TypeInfo kTypeFP4{TypeId::FP4, "fp4", kQK_BNB4, sizeof(BlockBnb4), true, to_float<kFP4Values>,
                        fp4_from_float, TypeId::F32, quantize_rows<quantize_row_fp4>};
const TypeInfo kTypeINT4{TypeId::INT4, "int4", kQK_BNB4, sizeof(BlockBnb4), true, to_float<kINT4Values>,
                         int4_from_float, TypeId::F32, quantize_rows<quantize_row_int4>};
// Storage only: the absmax needs the tensor's companion state, so these have
// no row conversions; the loader expands them to NF4 / FP4.
const TypeInfo kTypeNF4_DQ{TypeId::NF4_DQ, "nf4_dq", kQK_BNB4, sizeof(BlockBnb4DQ), true, nullptr, nullptr, TypeId::F32};
const TypeInfo kTypeFP4_DQ{TypeId::FP4_DQ, "fp4_dq", kQK_BNB4, sizeof(BlockBnb4DQ), true, nullptr, nullptr, TypeId::F32};

}  // namespace qinfer
