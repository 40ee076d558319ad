// Block formats: layouts, reference quantize/dequantize, and byte-exactness
// against files written by llama.cpp's reference quantizer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q4_1.h"
#include "qinfer/quant/q5_0.h"
#include "qinfer/quant/q5_1.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_1.h"
#include "qinfer/quant/q8_k.h"
#include "qinfer/quant/quant_common.h"
#include "qinfer/quant/type_registry.h"
#include "test_util.h"

using namespace qinfer;

namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> quantize(TypeId t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_size(t, int64_t(x.size())));
  type_info(t).from_float(x.data(), q.data(), int64_t(x.size()));
  return q;
}

std::vector<float> dequantize(TypeId t, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n);
  type_info(t).to_float(q.data(), y.data(), int64_t(n));
  return y;
}

const TypeId kLegacy[] = {TypeId::Q4_0, TypeId::Q4_1, TypeId::Q5_0, TypeId::Q5_1, TypeId::Q8_0};

}  // namespace

// ---------------------------------------------------------------------------
// Registry rows

TEST(QuantRegistry, EveryRowIsConsistent) {
  struct Expect {
    TypeId id;
    const char* name;
    int64_t block;
    size_t bytes;
    TypeId dot;
  };
  const Expect rows[] = {
      {TypeId::F32, "f32", 1, 4, TypeId::F32},        {TypeId::F16, "f16", 1, 2, TypeId::F16},
      {TypeId::BF16, "bf16", 1, 2, TypeId::BF16},     {TypeId::Q4_0, "q4_0", 32, 18, TypeId::Q8_0},
      {TypeId::Q4_1, "q4_1", 32, 20, TypeId::Q8_1},   {TypeId::Q5_0, "q5_0", 32, 22, TypeId::Q8_0},
      {TypeId::Q5_1, "q5_1", 32, 24, TypeId::Q8_1},   {TypeId::Q8_0, "q8_0", 32, 34, TypeId::Q8_0},
      {TypeId::Q8_1, "q8_1", 32, 36, TypeId::Q8_1},   {TypeId::Q8_K, "q8_K", 256, 292, TypeId::Q8_K},
  };
  for (const auto& e : rows) {
    const TypeInfo* info = find_type(e.id);
    ASSERT_NE(info, nullptr) << e.name;
    EXPECT_EQ(info->id, e.id);
    EXPECT_STREQ(info->name, e.name);
    EXPECT_EQ(info->block_size, e.block);
    EXPECT_EQ(info->type_size, e.bytes) << e.name;
    EXPECT_EQ(info->vec_dot_type, e.dot) << e.name;
    EXPECT_NE(info->to_float, nullptr);
    EXPECT_NE(info->from_float, nullptr);
    EXPECT_EQ(find_type(std::string_view(e.name)), info);
  }
  // Every registered row is what its id and its name find: two rows with one
  // id or one name would shadow each other here.
  size_t n_types = 0;
  const TypeInfo* const* all = all_types(&n_types);
  std::set<uint32_t> ids;
  std::set<std::string> names;
  for (size_t i = 0; i < n_types; ++i) {
    const TypeInfo* info = all[i];
    // ggml's ids below kTypeIdLimit, qinfer-only ones in their own range.
    EXPECT_EQ(uint32_t(info->id) < kTypeIdLimit, !is_qinfer_only(info->id)) << info->name;
    EXPECT_NE(type_slot(info->id), kNoSlot) << info->name;
    EXPECT_TRUE(ids.insert(uint32_t(info->id)).second) << "id " << uint32_t(info->id) << " registered twice";
    EXPECT_TRUE(names.insert(info->name).second) << info->name << " registered twice";
    EXPECT_EQ(find_type(info->id), info) << info->name;
    EXPECT_EQ(find_type(std::string_view(info->name)), info) << info->name;
    EXPECT_GT(info->block_size, 0) << info->name;
    EXPECT_GT(info->type_size, 0u) << info->name;
    // Storage-only types (double-quantized NF4/FP4: the absmax needs the
    // tensor's companion state) have no row conversions; the loader expands them.
    const bool storage_only = info->id == TypeId::NF4_DQ || info->id == TypeId::FP4_DQ;
    EXPECT_EQ(info->to_float == nullptr, storage_only) << info->name;
    if (info->quantize) {
      EXPECT_TRUE(info->quantized || info->from_float) << info->name;
    }
  }
  EXPECT_EQ(find_type(uint32_t(kTypeIdLimit)), nullptr);
  EXPECT_EQ(find_type(uint32_t(kQinferTypeBase - 1)), nullptr);
  EXPECT_EQ(find_type(uint32_t(kQinferTypeBase + kQinferTypeCount)), nullptr);
  EXPECT_EQ(row_size(TypeId::Q4_0, 64), 36u);
  EXPECT_THROW(row_size(TypeId::Q4_0, 33), Error);
}

// ---------------------------------------------------------------------------
// Non-finite detection

TEST(QuantNonFinite, DetectsNaNAndInf) {
  std::vector<float> x(100, 1.0f);
  EXPECT_FALSE(row_has_nonfinite(x.data(), int64_t(x.size())));
  EXPECT_EQ(find_nonfinite(x.data(), int64_t(x.size())), -1);
  x[37] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(row_has_nonfinite(x.data(), int64_t(x.size())));
  EXPECT_EQ(find_nonfinite(x.data(), int64_t(x.size())), 37);
  x[37] = 1.0f;
  x[99] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(find_nonfinite(x.data(), int64_t(x.size())), 99);
  x[99] = std::numeric_limits<float>::max();  // huge but finite
  x[3] = std::numeric_limits<float>::denorm_min();
  EXPECT_FALSE(row_has_nonfinite(x.data(), int64_t(x.size())));
}

// ---------------------------------------------------------------------------
// Dequantization of hand-built blocks: every code of every format.

TEST(QuantDequant, Q4_0EveryCode) {
  BlockQ4_0 b{};
  b.d = f32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(j | ((15 - j) << 4));
  float y[32];
  dequantize_row_q4_0(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], float(j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], float(15 - j - 8) * 0.5f);
  }
}

TEST(QuantDequant, Q4_1EveryCode) {
  BlockQ4_1 b{};
  b.d = f32_to_fp16(0.25f);
  b.m = f32_to_fp16(-1.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(j | ((15 - j) << 4));
  float y[32];
  dequantize_row_q4_1(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], float(j) * 0.25f - 1.5f);
    EXPECT_EQ(y[j + 16], float(15 - j) * 0.25f - 1.5f);
  }
}

namespace {
// Packs 32 five-bit codes the ggml way (low nibbles in qs, bit 4 in qh).
template <class B>
void pack5(B& b, const int* codes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = uint8_t((codes[j] & 15) | ((codes[j + 16] & 15) << 4));
    qh |= uint32_t(codes[j] >> 4) << j;
    qh |= uint32_t(codes[j + 16] >> 4) << (j + 16);
  }
  for (int i = 0; i < 4; ++i) b.qh[i] = uint8_t(qh >> (8 * i));
}
}  // namespace

TEST(QuantDequant, Q5_0EveryCode) {
  int codes[32];
  for (int j = 0; j < 32; ++j) codes[j] = (j * 7) % 32;  // a permutation of 0..31
  BlockQ5_0 b{};
  b.d = f32_to_fp16(0.125f);
  pack5(b, codes);
  float y[32];
  dequantize_row_q5_0(&b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], float(codes[j] - 16) * 0.125f) << j;
}

TEST(QuantDequant, Q5_1EveryCode) {
  int codes[32];
  for (int j = 0; j < 32; ++j) codes[j] = (j * 13 + 5) % 32;
  BlockQ5_1 b{};
  b.d = f32_to_fp16(0.0625f);
  b.m = f32_to_fp16(2.0f);
  pack5(b, codes);
  float y[32];
  dequantize_row_q5_1(&b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], float(codes[j]) * 0.0625f + 2.0f) << j;
}

TEST(QuantDequant, Q8_0EveryCode) {
  // 256 codes over 8 blocks.
  BlockQ8_0 b[8];
  for (int i = 0; i < 8; ++i) {
    b[i].d = f32_to_fp16(0.5f * float(i + 1));
    for (int j = 0; j < 32; ++j) b[i].qs[j] = int8_t(i * 32 + j - 128);
  }
  float y[256];
  dequantize_row_q8_0(b, y, 256);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[i * 32 + j], float(i * 32 + j - 128) * 0.5f * float(i + 1));
}

TEST(QuantDequant, Q8_1AndQ8_KEveryCode) {
  BlockQ8_1 b[8];
  for (int i = 0; i < 8; ++i) {
    b[i].d = f32_to_fp16(0.25f);
    b[i].s = 0;
    for (int j = 0; j < 32; ++j) b[i].qs[j] = int8_t(i * 32 + j - 128);
  }
  float y[256];
  dequantize_row_q8_1(b, y, 256);
  for (int k = 0; k < 256; ++k) EXPECT_EQ(y[k], float(k - 128) * 0.25f);
  BlockQ8_K bk{};
  bk.d = 0.75f;
  for (int j = 0; j < 256; ++j) bk.qs[j] = int8_t(j - 128);
  dequantize_row_q8_k(&bk, y, 256);
  for (int k = 0; k < 256; ++k) EXPECT_EQ(y[k], float(k - 128) * 0.75f);
}

// ---------------------------------------------------------------------------
// Reference quantizers: hand-checked blocks and round-trip error bounds.

TEST(QuantRef, Q4_0SignOfScaleFollowsLargestMagnitude) {
  std::vector<float> x(32, 0.0f);
  x[3] = -4.0f;  // largest magnitude is negative -> d = +0.5, code 0 for -4
  x[4] = 3.5f;
  auto q = quantize(TypeId::Q4_0, x);
  BlockQ4_0 b;
  std::memcpy(&b, q.data(), sizeof b);
  EXPECT_EQ(fp16_to_f32(b.d), 0.5f);
  EXPECT_EQ(b.qs[3] & 15, 0);
  EXPECT_EQ(b.qs[4] & 15, 15);  // 3.5/0.5 + 8.5 = 15.5 -> 15
  EXPECT_EQ(b.qs[0] & 15, 8);
  // Positive largest value: d negative, the maximum maps to code 0 again.
  x[3] = 4.0f;
  q = quantize(TypeId::Q4_0, x);
  std::memcpy(&b, q.data(), sizeof b);
  EXPECT_EQ(fp16_to_f32(b.d), -0.5f);
  EXPECT_EQ(b.qs[3] & 15, 0);
}

TEST(QuantRef, Q8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  auto q = quantize(TypeId::Q8_0, x);
  BlockQ8_0 b;
  std::memcpy(&b, q.data(), sizeof b);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
  EXPECT_EQ(b.qs[3], 4);
  // The x86 activation quantizer rounds halves to even instead.
  BlockQ8_0 bx;
  quantize_row_q8_0_x86(x.data(), &bx, 32);
  EXPECT_EQ(bx.qs[1], 2);
  EXPECT_EQ(bx.qs[2], -2);
  EXPECT_EQ(bx.qs[3], 4);
}

TEST(QuantRef, Q8_1SumMatchesCodes) {
  auto x = randn(256, 11);
  std::vector<BlockQ8_1> b(8);
  quantize_row_q8_1_ref(x.data(), b.data(), 256);
  for (const auto& blk : b) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += blk.qs[j];
    const float d = fp16_to_f32(blk.d);
    EXPECT_NEAR(fp16_to_f32(blk.s), float(sum) * d, std::fabs(float(sum) * d) * 1e-3f + 1e-6f);
  }
  quantize_row_q8_1_x86(x.data(), b.data(), 256);
  for (const auto& blk : b) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += blk.qs[j];
    EXPECT_NEAR(fp16_to_f32(blk.s), float(sum) * fp16_to_f32(blk.d), std::fabs(float(sum) * fp16_to_f32(blk.d)) * 2e-3f + 1e-6f);
  }
}

TEST(QuantRef, Q8_KMatchesDefinition) {
  auto x = randn(512, 12, 3.0f);
  x[7] = -20.0f;
  std::vector<BlockQ8_K> b(2);
  quantize_row_q8_k_ref(x.data(), b.data(), 512);
  // The largest magnitude maps to exactly ±127 and keeps its sign through d.
  EXPECT_EQ(b[0].qs[7], -127);
  EXPECT_FLOAT_EQ(b[0].d * b[0].qs[7], -20.0f);
  for (const auto& blk : b)
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += blk.qs[16 * g + j];
      EXPECT_EQ(blk.bsums[g], s);
    }
  std::vector<float> y(512);
  dequantize_row_q8_k(b.data(), y.data(), 512);
  for (size_t i = 0; i < 512; ++i) EXPECT_NEAR(y[i], x[i], std::fabs(b[i / 256].d) * 0.5f * 1.0001f + 1e-6f);
  std::vector<float> zeros(256, 0.0f);
  quantize_row_q8_k_ref(zeros.data(), b.data(), 256);
  EXPECT_EQ(b[0].d, 0.0f);
  for (int g = 0; g < 16; ++g) EXPECT_EQ(b[0].bsums[g], 0);
}

// Round trip: each element's error is at most half a quantization step (plus
// fp16 rounding of the scale, which moves every level by up to 2^-11 relative,
// and for the asymmetric types of the minimum). Bounds per block from its own
// range, so the test checks the arithmetic, not a loose global tolerance.
TEST(QuantRef, RoundTripErrorBoundsPerBitWidth) {
  struct Case {
    TypeId t;
    float levels;  // step = range / levels
    bool symmetric;
  };
  const Case cases[] = {{TypeId::Q4_0, 8, true},   {TypeId::Q5_0, 16, true}, {TypeId::Q8_0, 127, true},
                        {TypeId::Q4_1, 15, false}, {TypeId::Q5_1, 31, false}, {TypeId::Q8_1, 127, true}};
  const float eps16 = 1.0f / 2048;  // fp16 relative rounding
  for (const Case& c : cases) {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      auto x = randn(32 * 64, seed * 100 + uint32_t(c.t), seed == 4 ? 1e-3f : 1.0f);
      auto q = quantize(c.t, x);
      auto y = dequantize(c.t, q, x.size());
      double rms_err = 0, rms_x = 0;
      for (size_t b = 0; b < x.size() / 32; ++b) {
        float mn = x[b * 32], mx = x[b * 32], amax = 0;
        for (int j = 0; j < 32; ++j) {
          mn = std::min(mn, x[b * 32 + j]);
          mx = std::max(mx, x[b * 32 + j]);
          amax = std::max(amax, std::fabs(x[b * 32 + j]));
        }
        const float step = c.symmetric ? amax / c.levels : (mx - mn) / c.levels;
        // Symmetric Q4_0/Q5_0 use max/-levels, so the positive end clips by one step.
        const float clip = (c.t == TypeId::Q4_0 || c.t == TypeId::Q5_0) ? step : 0.0f;
        const float bound = 0.5f * step + clip + 2 * eps16 * (amax + std::fabs(mn)) + 1e-30f;
        for (int j = 0; j < 32; ++j) {
          const float e = std::fabs(y[b * 32 + j] - x[b * 32 + j]);
          ASSERT_LE(e, bound) << type_info(c.t).name << " block " << b << " elem " << j << " x=" << x[b * 32 + j]
                              << " y=" << y[b * 32 + j];
          rms_err += double(e) * e;
          rms_x += double(x[b * 32 + j]) * x[b * 32 + j];
        }
      }
      // Relative RMS error shrinks about 2x per extra bit.
      const double rel = std::sqrt(rms_err / rms_x);
      // Uniform error of a step ~4σ/levels has RMS ~1.15σ/levels for 32 Gaussian samples.
      const double limit = 1.3 / c.levels;
      EXPECT_LT(rel, limit) << type_info(c.t).name << " seed " << seed;
    }
  }
}

TEST(QuantRef, AdversarialBlocks) {
  for (TypeId t : kLegacy) {
    // All zeros: scale 0, every value back to exactly 0.
    std::vector<float> zeros(64, 0.0f);
    auto y = dequantize(t, quantize(t, zeros), 64);
    for (float v : y) EXPECT_EQ(v, 0.0f) << type_info(t).name;
    // Constant block: asymmetric types reproduce it to fp16 precision.
    std::vector<float> c(32, 3.0f);
    y = dequantize(t, quantize(t, c), 32);
    for (float v : y) EXPECT_NEAR(v, 3.0f, 3.0f * 2e-3f) << type_info(t).name;
    // One huge outlier: it survives, the rest collapse toward 0 within a step.
    std::vector<float> o = randn(32, 5, 1e-3f);
    o[17] = 1e4f;
    y = dequantize(t, quantize(t, o), 32);
    EXPECT_NEAR(y[17], 1e4f, 1e4f * 2e-3f) << type_info(t).name;
    // Denormal inputs: no crash, no NaN.
    std::vector<float> dn(32, std::numeric_limits<float>::denorm_min());
    dn[0] = -4 * std::numeric_limits<float>::denorm_min();
    y = dequantize(t, quantize(t, dn), 32);
    for (float v : y) EXPECT_TRUE(std::isfinite(v)) << type_info(t).name;
  }
}

// ---------------------------------------------------------------------------
// Byte-exactness against llama.cpp's reference quantizer.

namespace {

// Quantizes every tensor of `golden` from the F32 tensor of the same name in
// `source` and compares the bytes. Returns the number of tensors compared per type.
void expect_golden_tensors(const std::string& source_rel, const std::string& golden_rel, TypeId file_type,
                           int* n_quant, int* n_f16) {
  auto src = GgufFile::open(test::data_path(source_rel));
  auto gold = GgufFile::open(test::data_path(golden_rel));
  *n_quant = *n_f16 = 0;
  for (const GgufTensorInfo& gt : gold->tensors()) {
    const GgufTensorInfo* st = src->find_tensor(gt.name);
    ASSERT_NE(st, nullptr) << gt.name;
    ASSERT_EQ(st->type, TypeId::F32) << gt.name;
    ASSERT_EQ(st->n_elements(), gt.n_elements()) << gt.name;
    const TypeInfo* info = find_type(gt.type);
    if (gt.type != file_type && gt.type != TypeId::F16 && gt.type != TypeId::F32) continue;  // e.g. Q6_K output
    ASSERT_NE(info, nullptr);
    const float* x = reinterpret_cast<const float*>(src->tensor_data(*st));
    const int64_t n = st->n_elements();
    ASSERT_FALSE(row_has_nonfinite(x, n)) << gt.name;
    std::vector<uint8_t> out(row_size(gt.type, n));
    info->from_float(x, out.data(), n);
    ASSERT_EQ(out.size(), gt.nbytes) << gt.name;
    const uint8_t* want = gold->tensor_data(gt);
    if (std::memcmp(out.data(), want, out.size()) != 0) {
      size_t i = 0;
      while (out[i] == want[i]) ++i;
      const size_t blk = i / info->type_size;
      ADD_FAILURE() << golden_rel << ": tensor " << gt.name << " (" << info->name << ") differs at byte " << i
                    << " (block " << blk << "): got " << int(out[i]) << ", llama.cpp " << int(want[i]);
      continue;
    }
    if (gt.type == file_type) ++*n_quant;
    if (gt.type == TypeId::F16) ++*n_f16;
  }
}

struct GoldenCase {
  const char* suffix;
  TypeId type;
};
const GoldenCase kGolden[] = {{"Q8_0", TypeId::Q8_0}, {"Q4_0", TypeId::Q4_0}, {"Q4_1", TypeId::Q4_1},
                              {"Q5_0", TypeId::Q5_0}, {"Q5_1", TypeId::Q5_1}};

}  // namespace

TEST(QuantGolden, Stories260KByteIdenticalToLlamaCpp) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  for (const auto& g : kGolden) {
    const std::string rel = std::string("golden/stories260K/stories260K-") + g.suffix + ".gguf";
    if (!std::filesystem::exists(test::data_path(rel))) GTEST_SKIP() << "missing " << rel;
    int nq = 0, nf16 = 0;
    expect_golden_tensors("models/stories260K/stories260K.gguf", rel, g.type, &nq, &nf16);
    EXPECT_EQ(nq, 32) << rel;   // token_embd, output, attn_q/k/v/output, ffn_gate/up x 5 layers
    EXPECT_EQ(nf16, 5) << rel;  // ffn_down (172 columns) written as F16
  }
}

TEST(QuantGolden, Tiny256ByteIdenticalToLlamaCpp) {
  QINFER_REQUIRE_DATA("golden/tiny256/tiny256-F32.gguf");
  for (const auto& g : kGolden) {
    const std::string rel = std::string("golden/tiny256/tiny256-") + g.suffix + ".gguf";
    if (!std::filesystem::exists(test::data_path(rel))) GTEST_SKIP() << "missing " << rel;
    int nq = 0, nf16 = 0;
    expect_golden_tensors("golden/tiny256/tiny256-F32.gguf", rel, g.type, &nq, &nf16);
    // 7 matrices x 2 layers + token_embd (+ output for Q8_0; Q6_K otherwise).
    EXPECT_EQ(nq, g.type == TypeId::Q8_0 ? 16 : 15) << rel;
  }
}
