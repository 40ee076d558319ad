// qinfer's own tensor types: bitsandbytes' NF4/FP4 (+ double quantization)
// and LLM.int8. Code books and the double-quant map against the values
// bitsandbytes publishes, layouts, round-trip error bounds, and every SIMD
// kernel against the scalar reference on random and adversarial data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "isa_test.h"
#include "qinfer/core/error.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/kernels/kernels_bnb.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;
using kernels::Isa;

namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

enum class Pattern { Random, Zeros, Outlier, Denormal, Mixed, Ties };

std::vector<float> make(int64_t n, Pattern p, uint32_t seed) {
  std::vector<float> v = randn(size_t(n), seed);
  std::mt19937 rng(seed + 99);
  switch (p) {
    case Pattern::Random: break;
    case Pattern::Zeros: std::fill(v.begin(), v.end(), 0.0f); break;
    case Pattern::Outlier:
      for (int k = 0; k < 3; ++k) v[size_t(rng() % uint32_t(n))] = (k % 2 ? -1 : 1) * 40.0f;
      break;
    case Pattern::Denormal:
      for (float& x : v) x *= 1e-39f;
      break;
    case Pattern::Mixed:
      for (int64_t i = 0; i < n; ++i) v[size_t(i)] *= (i / 64) % 3 == 0 ? 0.0f : (i / 64) % 3 == 1 ? 1e-3f : 50.0f;
      break;
    case Pattern::Ties:  // values on the code books' midpoints and exact codes
      for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(int(rng() % 33) - 16) / 16.0f;
      break;
  }
  return v;
}
const Pattern kPatterns[] = {Pattern::Random, Pattern::Zeros, Pattern::Outlier, Pattern::Denormal, Pattern::Mixed,
                             Pattern::Ties};

class BnbKernelIsa : public test::IsaTest {};


std::vector<uint8_t> quantize(TypeId t, const std::vector<float>& w, int64_t rows, int64_t n) {
  std::vector<uint8_t> q(size_t(rows) * row_size(t, n));
  type_info(t).quantize(w.data(), q.data(), rows, n, nullptr);
  return q;
}

}  // namespace

TEST(BnbTypes, CodeBooksAreBitsandbytes) {
  // bitsandbytes get_4bit_type("nf4") (functional.py; also csrc/kernels.cu's nf4 table).
  const double nf4[16] = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                          -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                          0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                          0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};
  // get_4bit_type("fp4"): [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, ...] divided by 12.
  const double fp4[16] = {0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3};
  for (int i = 0; i < 16; ++i) {
    // get_4bit_type("int4"): [7, 6, ..., 0, -0, ..., -7] divided by 7.
    EXPECT_EQ(kINT4Values[i], float(i < 8 ? 7 - i : -(i - 8)) / 7.0f) << i;
    EXPECT_EQ(kNF4Values[i], float(nf4[i])) << i;
    EXPECT_EQ(kFP4Values[i], float(fp4[i]) / 12.0f) << i;
    EXPECT_EQ(std::signbit(kFP4Values[i]), i >= 8) << i;
  }
}

TEST(BnbTypes, DynamicMapMatchesBitsandbytes) {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), as
  // dumped from bitsandbytes. The last bit of an entry depends on how torch
  // vectorizes linspace on the machine that ran it, so entries must agree to
  // 2 float ulps (the map itself travels inside exported files, so readers
  // use the writer's exact values).
  const std::vector<float>& m = bnb_dynamic_map();
  ASSERT_EQ(m.size(), 256u);
  EXPECT_TRUE(std::is_sorted(m.begin(), m.end()));
  const std::pair<int, double> published[] = {
      {0, -0.992968738079071},      {1, -0.9789062738418579},       {2, -0.96484375},
      {3, -0.9507812261581421},     {63, -0.10703125596046448},     {64, -0.09859374910593033},
      {65, -0.09578125178813934},   {100, -0.0074687497690320015},  {112, -0.0009437499684281647},
      {120, -8.874999912222847e-05}, {124, -7.749999895168003e-06}, {125, -3.2499999633728294e-06},
      {126, -5.499999815583578e-07}, {127, 0.0},                    {128, 5.499999815583578e-07},
      {131, 2.1249999917927198e-05}, {191, 0.10703125596046448},    {252, 0.96484375},
      {253, 0.9789062738418579},    {254, 0.992968738079071},       {255, 1.0},
  };
  for (const auto& [i, v] : published) {
    const float want = float(v);
    const float ulp = std::nextafter(std::fabs(want), 2.0f) - std::fabs(want);
    EXPECT_LE(std::fabs(m[size_t(i)] - want), 2 * ulp) << "index " << i << ": " << m[size_t(i)] << " vs " << want;
  }
  EXPECT_EQ(m[127], 0.0f);
  EXPECT_EQ(m[255], 1.0f);
  for (int i = 0; i < 127; ++i) EXPECT_EQ(m[size_t(i)], -m[size_t(254 - i)]) << i;  // symmetric but for the 1
}

TEST(BnbTypes, RegistryRowsAndIds) {
  for (TypeId t : {TypeId::NF4, TypeId::FP4, TypeId::INT4, TypeId::INT8, TypeId::NF4_DQ, TypeId::FP4_DQ}) {
    const TypeInfo* info = find_type(t);
    ASSERT_NE(info, nullptr);
    EXPECT_TRUE(is_qinfer_only(t));
    EXPECT_GE(uint32_t(t), kQinferTypeBase);  // far above ggml's ids
    EXPECT_EQ(find_type(info->name), info);
    EXPECT_EQ(find_type(uint32_t(t)), info);
  }
  EXPECT_EQ(find_type(uint32_t(kQinferTypeBase + kQinferTypeCount)), nullptr);
  EXPECT_EQ(find_type(uint32_t(500)), nullptr);
  EXPECT_FALSE(is_qinfer_only(TypeId::Q4_0));
  EXPECT_EQ(row_size(TypeId::NF4, 128), 2 * sizeof(BlockBnb4));
  EXPECT_EQ(row_size(TypeId::NF4_DQ, 128), 2 * sizeof(BlockBnb4DQ));
  EXPECT_EQ(row_size(TypeId::INT8, 96), sizeof(Int8RowHeader) + 96);
  EXPECT_THROW(row_size(TypeId::NF4, 96), Error);
}

TEST(BnbTypes, PackingIsBitsandbytesOrder) {
  // Element 2k in the high nibble, 2k+1 in the low: codes 0..15 then 15..0.
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[size_t(i)] = kNF4Values[i < 16 ? i : i < 32 ? 31 - i : i % 16];
  BlockBnb4 b;
  quantize_row_nf4(x.data(), &b, 64);
  EXPECT_EQ(b.absmax, 1.0f);
  EXPECT_EQ(b.qs[0], 0x01);
  EXPECT_EQ(b.qs[7], 0xEF);
  EXPECT_EQ(b.qs[8], 0xFE);
  std::vector<float> y(64);
  dequantize_row_bnb4(&b, kNF4Values, y.data(), 64);
  EXPECT_EQ(y, x);
}

TEST(BnbTypes, RoundTripIsTheNearestCode) {
  for (TypeId t : {TypeId::NF4, TypeId::FP4, TypeId::INT4}) {
    const float* book = t == TypeId::NF4 ? kNF4Values : t == TypeId::FP4 ? kFP4Values : kINT4Values;
    const double half_gap = t == TypeId::NF4 ? 0.1386 : t == TypeId::FP4 ? 0.1667 : 0.0715;
    for (Pattern p : kPatterns) {
      const std::vector<float> x = make(256, p, 5 + int(p));
      const std::vector<uint8_t> q = quantize(t, x, 1, 256);
      std::vector<float> y(256);
      type_info(t).to_float(q.data(), y.data(), 256);
      const auto* blocks = reinterpret_cast<const BlockBnb4*>(q.data());
      for (int i = 0; i < 256; ++i) {
        const float amax = blocks[i / 64].absmax;
        if (amax < 1e-38f) {
          // bitsandbytes divides by max(absmax, 1e-38): a block of tiny
          // (subnormal) weights is coded against 1e-38 and stays below it.
          EXPECT_LE(std::fabs(y[size_t(i)] - x[size_t(i)]), 1e-38f);
          continue;
        }
        // No code is closer than the chosen one (up to the float rounding of x/absmax).
        const float s = x[size_t(i)] / amax;
        double best = 1e9;
        for (int c = 0; c < 16; ++c) best = std::min(best, std::fabs(double(book[c]) - s));
        EXPECT_LE(std::fabs(double(y[size_t(i)]) / amax - s), best + 1e-6) << type_info(t).name << " " << i;
        // Hence the bound: half the widest gap of the code book times absmax.
        EXPECT_LE(std::fabs(y[size_t(i)] - x[size_t(i)]), half_gap * amax * 1.000001);
      }
    }
  }
}

TEST(BnbTypes, DoubleQuantRoundTrip) {
  const int64_t rows = 40, cols = 512;  // 320 blocks: a full nested group and a partial one
  std::vector<float> w = randn(size_t(rows * cols), 3);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w[size_t(r * cols + j)] *= 1.0f + float(r % 7);
  const DoubleQuantTensor dq = double_quantize_tensor(w.data(), rows, cols, TypeId::NF4_DQ);
  const int64_t nb = rows * cols / 64;
  ASSERT_EQ(int64_t(dq.state.size()), double_quant_state_size(nb));
  EXPECT_EQ(dq.state.size(), 3u);
  std::vector<BlockBnb4> plain(static_cast<size_t>(nb)), back(static_cast<size_t>(nb));
  for (int64_t r = 0; r < rows; ++r) quantize_row_nf4(&w[size_t(r * cols)], &plain[size_t(r * cols / 64)], cols);
  expand_double_quant(reinterpret_cast<const BlockBnb4DQ*>(dq.blocks.data()), nb, dq.state.data(),
                      int64_t(dq.state.size()), back.data());
  double mean = 0;
  for (const BlockBnb4& b : plain) mean += b.absmax;
  mean /= double(nb);
  EXPECT_NEAR(dq.state[0], mean, 1e-5 * mean);  // the offset is the mean absmax
  const std::vector<float>& map = bnb_dynamic_map();
  double max_gap = 0;
  for (size_t i = 0; i + 1 < map.size(); ++i) max_gap = std::max(max_gap, double(map[i + 1]) - map[i]);
  for (int64_t b = 0; b < nb; ++b) {
    EXPECT_EQ(std::memcmp(back[size_t(b)].qs, plain[size_t(b)].qs, 32), 0);
    const double group = dq.state[size_t(1 + b / 256)];
    EXPECT_LE(std::fabs(double(back[size_t(b)].absmax) - plain[size_t(b)].absmax), group * max_gap / 2 * 1.001 + 1e-7)
        << b;
  }
  EXPECT_THROW(expand_double_quant(reinterpret_cast<const BlockBnb4DQ*>(dq.blocks.data()), nb, dq.state.data(), 2,
                                   back.data()),
               InputError);
}

TEST(Int8Rows, RoundTripAndLayout) {
  for (Pattern p : kPatterns) {
    const int64_t rows = 3, n = 96;
    const std::vector<float> w = make(rows * n, p, 11 + int(p));
    const std::vector<uint8_t> q = quantize(TypeId::INT8, w, rows, n);
    ASSERT_EQ(q.size(), size_t(rows) * (8 + n));
    for (int64_t r = 0; r < rows; ++r) {
      Int8RowHeader h;
      std::memcpy(&h, &q[size_t(r) * (8 + n)], 8);
      float amax = 0;
      for (int64_t j = 0; j < n; ++j) amax = std::max(amax, std::fabs(w[size_t(r * n + j)]));
      EXPECT_EQ(h.scb, amax);
      EXPECT_EQ(h.threshold, kInt8DefaultThreshold);
      std::vector<float> y(static_cast<size_t>(n));
      type_info(TypeId::INT8).to_float(&q[size_t(r) * (8 + n)], y.data(), n);
      for (int64_t j = 0; j < n; ++j)
        EXPECT_LE(std::fabs(y[size_t(j)] - w[size_t(r * n + j)]), amax / 127 / 2 * 1.0001 + 2e-43) << j;
    }
  }
}

// The mixed-precision decomposition against a float64 reference: outlier
// features multiply the dequantized weights in float, the rest goes through
// int8 on both sides; and it is what keeps an outlier from ruining the rest.
TEST(Int8Rows, OutlierSplitMatchesFloatReference) {
  const int64_t n = 256;
  std::vector<float> w = randn(size_t(n), 21, 0.05f);
  std::vector<float> x = randn(size_t(n), 22);
  x[17] = 60.0f;
  x[200] = -25.0f;
  x[31] = 6.0f;  // exactly the threshold: an outlier (|x| ≥ 6)
  std::vector<uint8_t> row(8 + size_t(n));
  quantize_int8_rows(w.data(), row.data(), 1, n, 6.0f);
  std::vector<float> wd(static_cast<size_t>(n));
  dequantize_int8_row(row.data(), wd.data(), n);
  // Reference: activation absmax over the non-outliers, int8 codes of both
  // sides for the rest (exact products in double), float outliers.
  float amax = 0;
  for (int64_t j = 0; j < n; ++j)
    if (std::fabs(x[size_t(j)]) < 6.0f) amax = std::max(amax, std::fabs(x[size_t(j)]));
  Int8RowHeader h;
  std::memcpy(&h, row.data(), sizeof h);
  const auto* qw = reinterpret_cast<const int8_t*>(row.data() + 8);
  double ref = 0, exact = 0;
  for (int64_t j = 0; j < n; ++j) {
    exact += double(w[size_t(j)]) * x[size_t(j)];
    if (std::fabs(x[size_t(j)]) >= 6.0f)
      ref += double(x[size_t(j)]) * wd[size_t(j)];
    else
      ref += std::nearbyint(x[size_t(j)] * (127.0f / amax)) * qw[j] * (double(amax) / 127) * (double(h.scb) / 127);
  }
  for (Isa isa : test::all_isas()) {
    if (!kernels::isa_supported(isa)) continue;
    const Isa saved = kernels::active_isa();
    kernels::set_isa(isa);
    const float got = kernels::vec_dot(TypeId::INT8, n, row.data(), x.data());
    kernels::set_isa(saved);
    EXPECT_NEAR(got, ref, 1e-5 * (std::fabs(ref) + 1)) << kernels::isa_name(isa);
  }
  // Without the decomposition (threshold 0) the 60 sets the activation scale
  // and the small features lose their bits: the error against the exact dot grows.
  std::vector<uint8_t> plain(row);
  quantize_int8_rows(w.data(), plain.data(), 1, n, 0.0f);
  const double err_split = std::fabs(kernels::vec_dot(TypeId::INT8, n, row.data(), x.data()) - exact);
  const double err_plain = std::fabs(kernels::vec_dot(TypeId::INT8, n, plain.data(), x.data()) - exact);
  EXPECT_LT(err_split * 3, err_plain) << "split " << err_split << " plain " << err_plain;
}

TEST_P(BnbKernelIsa, VecDotMatchesScalarReference) {
  for (TypeId t : {TypeId::NF4, TypeId::FP4, TypeId::INT4, TypeId::INT8}) {
    const kernels::VecDotFn ref = t == TypeId::NF4    ? kernels::vec_dot_nf4_f32_generic
                                  : t == TypeId::FP4  ? kernels::vec_dot_fp4_f32_generic
                                  : t == TypeId::INT4 ? kernels::vec_dot_int4_f32_generic
                                                      : kernels::vec_dot_int8_f32_generic;
    for (int64_t n : {64, 128, 192, 512, 2048, 5632}) {
      for (Pattern pw : kPatterns) {
        for (Pattern px : {Pattern::Random, Pattern::Outlier, Pattern::Zeros, Pattern::Mixed}) {
          const std::vector<float> w = make(n, pw, uint32_t(n + int(pw)));
          const std::vector<float> x = make(n, px, uint32_t(3 * n + int(px)));
          const std::vector<uint8_t> q = quantize(t, w, 1, n);
          const float got = kernels::vec_dot(t, n, q.data(), x.data());
          const float want = ref(n, q.data(), x.data());
          if (t == TypeId::INT8) {
            // Exact integer sums and the same float epilogue: identical.
            ASSERT_EQ(got, want) << "int8 n=" << n;
            continue;
          }
          // Float accumulation in another order: within ε·(n/8 + 40)·Σ|w·x| of the double reference.
          std::vector<float> wd(static_cast<size_t>(n));
          type_info(t).to_float(q.data(), wd.data(), n);
          double abs_sum = 0;
          for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(double(wd[size_t(i)]) * x[size_t(i)]);
          ASSERT_LE(std::fabs(double(got) - double(want)), (double(n) / 8 + 40) * 6e-8 * abs_sum + 1e-37)
              << type_info(t).name << " n=" << n << " got " << got << " want " << want;
        }
      }
    }
  }
}

// n tokens in one call give the same bits as n calls of one token (batching
// must not change results), and each equals vec_dot.
TEST_P(BnbKernelIsa, MatmulIsBatchInvariant) {
  const int64_t n = 256, rows = 13, ntok = 7;
  for (TypeId t : {TypeId::NF4, TypeId::FP4, TypeId::INT4, TypeId::INT8}) {
    const std::vector<float> w = make(rows * n, Pattern::Random, 41);
    std::vector<float> x = make(ntok * n, Pattern::Random, 42);
    x[size_t(2 * n + 5)] = 30.0f;  // an outlier in token 2 only
    const std::vector<uint8_t> q = quantize(t, w, rows, n);
    const size_t ws = row_size(t, n), xs = size_t(n) * 4;
    std::vector<float> all(size_t(rows * ntok)), one(size_t(rows * ntok));
    kernels::matmul_rows(t, n, q.data(), ws, 0, rows, x.data(), xs, ntok, all.data(), rows);
    for (int64_t tok = 0; tok < ntok; ++tok)
      kernels::matmul_rows(t, n, q.data(), ws, 0, rows, x.data() + tok * n, xs, 1, one.data() + tok * rows, rows);
    EXPECT_EQ(all, one) << type_info(t).name;
    for (int64_t tok = 0; tok < ntok; ++tok)
      for (int64_t r = 0; r < rows; ++r)
        ASSERT_EQ(all[size_t(tok * rows + r)], kernels::vec_dot(t, n, q.data() + size_t(r) * ws, x.data() + tok * n));
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, BnbKernelIsa, ::testing::ValuesIn(test::all_isas()), test::isa_test_name);
