// CPU kernels: every SIMD path against the scalar path and against exact
// double-precision dot products, once per ISA this machine supports.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "isa_test.h"
#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/core/x86_features.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_1.h"
#include "qinfer/quant/type_registry.h"

// Counting allocator for this test binary: kernels must not allocate. (GCC
// flags malloc/free inside replaced operator new/delete as "mismatched".)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<long> g_allocs{0};
}
void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace qinfer;
using kernels::Isa;

namespace {

constexpr double kEps32 = 1.0 / (1 << 24);  // float unit roundoff
constexpr double kEps16 = 1.0 / (1 << 11);  // fp16 unit roundoff

const TypeId kWeightTypes[] = {TypeId::F32,  TypeId::F16,  TypeId::BF16, TypeId::Q4_0,
                               TypeId::Q4_1, TypeId::Q5_0, TypeId::Q5_1, TypeId::Q8_0};

bool is_block_type(TypeId t) { return type_info(t).block_size > 1; }

enum class Pattern { Random, Zeros, Outlier, Denormal, Mixed };

std::vector<float> make_data(int64_t n, Pattern p, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = g(rng);
  switch (p) {
    case Pattern::Random: break;
    case Pattern::Zeros: std::fill(v.begin(), v.end(), 0.0f); break;
    case Pattern::Outlier: v[size_t(rng() % n)] = 1e4f; break;
    case Pattern::Denormal:
      for (auto& x : v) x *= 1e-39f;  // subnormal floats
      break;
    case Pattern::Mixed:  // some blocks zero, some tiny, some large
      for (int64_t i = 0; i < n; ++i) v[size_t(i)] *= (i / 32) % 3 == 0 ? 0.0f : (i / 32) % 3 == 1 ? 1e-3f : 50.0f;
      break;
  }
  return v;
}

std::vector<float> to_f32(TypeId t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  type_info(t).to_float(q.data(), y.data(), n);
  return y;
}

// A weight row and an activation row in the forms the kernels consume, plus
// their dequantized values.
struct Operands {
  TypeId wtype, xtype;
  int64_t n;
  std::vector<float> w, x;            // original floats
  std::vector<uint8_t> wq, xq;        // weight row, activation row (vec_dot_type)
  std::vector<float> wd, xd;          // dequantized
};

Operands make_operands(TypeId wt, int64_t n, Pattern pw, Pattern px, uint32_t seed) {
  Operands o;
  o.wtype = wt;
  o.xtype = type_info(wt).vec_dot_type;
  o.n = n;
  o.w = make_data(n, pw, seed);
  o.x = make_data(n, px, seed * 7 + 1);
  o.wq.resize(row_size(wt, n));
  type_info(wt).from_float(o.w.data(), o.wq.data(), n);
  o.xq.resize(row_size(o.xtype, n));
  kernels::convert_activations(o.xtype, o.x.data(), o.xq.data(), n);
  o.wd = to_f32(wt, o.wq, n);
  o.xd = to_f32(o.xtype, o.xq, n);
  return o;
}

// Exact (double) dot of the dequantized operands, and a rounding-error bound
// for a float kernel computing it: every product and partial sum is rounded
// at most once per accumulation step, and a chain is at most n/8 + 40 steps
// long (vector lanes, unrolled accumulators, horizontal sum, scalar tail), so
// |err| <= (chain + 2)·ε·Σ|w·x|. Block types scale per block (d_w·d_x and its
// product with the exact integer sum: 2ε each) and accumulate n/32 block terms;
// Q4_1/Q5_1 add m·s where s is the activation's code sum scaled and rounded to
// fp16, so its error is ε16·|m·s| per block.
struct Expect {
  double exact;
  double tol;
};

Expect expected_dot(const Operands& o) {
  double exact = 0, abs_sum = 0;
  for (int64_t i = 0; i < o.n; ++i) {
    exact += double(o.wd[size_t(i)]) * double(o.xd[size_t(i)]);
    abs_sum += std::fabs(double(o.wd[size_t(i)]) * double(o.xd[size_t(i)]));
  }
  double tol;
  if (!is_block_type(o.wtype)) {
    tol = (double(o.n) / 8 + 42) * kEps32 * abs_sum;
    // vdpbf16ps (BF16 on AVX-512 BF16 CPUs) treats denormal inputs and sums as
    // zero, as documented: a product with a denormal operand may be lost, and
    // each of the n partial sums may lose up to the smallest normal float.
    if (o.wtype == TypeId::BF16) {
      const double min_normal = std::numeric_limits<float>::min();
      for (int64_t i = 0; i < o.n; ++i)
        if (std::fabs(o.wd[size_t(i)]) < min_normal || std::fabs(o.xd[size_t(i)]) < min_normal)
          tol += std::fabs(double(o.wd[size_t(i)]) * double(o.xd[size_t(i)]));
      tol += double(o.n) * min_normal;
    }
  } else {
    const int64_t nb = o.n / 32;
    tol = (double(nb) + 8) * 2 * kEps32 * abs_sum;
    if (o.wtype == TypeId::Q4_1 || o.wtype == TypeId::Q5_1) {
      const size_t wsz = type_info(o.wtype).type_size;
      const auto* xb = reinterpret_cast<const BlockQ8_1*>(o.xq.data());
      for (int64_t b = 0; b < nb; ++b) {
        uint16_t mh;
        std::memcpy(&mh, o.wq.data() + size_t(b) * wsz + 2, 2);  // m follows d
        const double m = fp16_to_f32(mh);
        int sq = 0;
        for (int j = 0; j < 32; ++j) sq += xb[b].qs[j];
        const double s_exact = double(fp16_to_f32(xb[b].d)) * sq;
        tol += std::fabs(m) * (kEps16 * std::fabs(s_exact) + std::fabs(fp16_to_f32(xb[b].s) - s_exact)) +
               (double(nb) + 8) * 2 * kEps32 * std::fabs(m * s_exact);
      }
    }
  }
  return {exact, tol + 1e-37};
}

kernels::VecDotFn generic_dot(TypeId t) {
  switch (t) {
    case TypeId::F32: return kernels::vec_dot_f32_generic;
    case TypeId::F16: return kernels::vec_dot_f16_generic;
    case TypeId::BF16: return kernels::vec_dot_bf16_generic;
    case TypeId::Q4_0: return kernels::vec_dot_q4_0_q8_0_generic;
    case TypeId::Q4_1: return kernels::vec_dot_q4_1_q8_1_generic;
    case TypeId::Q5_0: return kernels::vec_dot_q5_0_q8_0_generic;
    case TypeId::Q5_1: return kernels::vec_dot_q5_1_q8_1_generic;
    case TypeId::Q8_0: return kernels::vec_dot_q8_0_q8_0_generic;
    default: return nullptr;
  }
}

std::vector<int64_t> lengths_for(TypeId t) {
  if (is_block_type(t)) return {32, 64, 96, 160, 256, 2048};
  return {1, 2, 7, 8, 15, 16, 17, 33, 64, 172, 1000, 2048};
}

const Pattern kPatterns[] = {Pattern::Random, Pattern::Zeros, Pattern::Outlier, Pattern::Denormal, Pattern::Mixed};
const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::Random: return "random";
    case Pattern::Zeros: return "zeros";
    case Pattern::Outlier: return "outlier";
    case Pattern::Denormal: return "denormal";
    case Pattern::Mixed: return "mixed";
  }
  return "?";
}

class KernelIsa : public test::IsaTest {};


}  // namespace

// Activation conversion is bit-identical on every path (ggml's x86 rounding).
TEST_P(KernelIsa, ConvertActivationsMatchesScalarBitForBit) {
  for (int64_t n : {32, 64, 256, 2048}) {
    for (Pattern p : kPatterns) {
      auto x = make_data(n, p, uint32_t(n));
      std::vector<BlockQ8_0> a(size_t(n / 32)), b(size_t(n / 32));
      kernels::convert_activations(TypeId::Q8_0, x.data(), a.data(), n);
      quantize_row_q8_0_x86(x.data(), b.data(), n);
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(BlockQ8_0)), 0) << "q8_0 " << pattern_name(p);
      std::vector<BlockQ8_1> c(size_t(n / 32)), d(size_t(n / 32));
      kernels::convert_activations(TypeId::Q8_1, x.data(), c.data(), n);
      quantize_row_q8_1_x86(x.data(), d.data(), n);
      EXPECT_EQ(std::memcmp(c.data(), d.data(), c.size() * sizeof(BlockQ8_1)), 0) << "q8_1 " << pattern_name(p);
      std::vector<uint16_t> h(static_cast<size_t>(n));
      kernels::convert_activations(TypeId::F16, x.data(), h.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(h[size_t(i)], f32_to_fp16(x[size_t(i)])) << i;
    }
  }
  // F16 conversion of lengths that are not a multiple of the vector width.
  auto x = make_data(13, Pattern::Random, 3);
  std::vector<uint16_t> h(13);
  kernels::convert_activations(TypeId::F16, x.data(), h.data(), 13);
  for (int i = 0; i < 13; ++i) EXPECT_EQ(h[size_t(i)], f32_to_fp16(x[size_t(i)]));
}

// vec_dot on this ISA: within the rounding bound of the exact dot of the
// dequantized operands, and so within twice that of the scalar path.
TEST_P(KernelIsa, VecDotMatchesExactAndScalar) {
  for (TypeId t : kWeightTypes) {
    for (int64_t n : lengths_for(t)) {
      for (Pattern pw : kPatterns) {
        for (Pattern px : {Pattern::Random, Pattern::Outlier, Pattern::Zeros}) {
          const Operands o = make_operands(t, n, pw, px, uint32_t(n * 31 + int(pw) * 5 + int(px)));
          const Expect e = expected_dot(o);
          const float got = kernels::vec_dot(t, n, o.wq.data(), o.xq.data());
          const float ref = generic_dot(t)(n, o.wq.data(), o.xq.data());
          ASSERT_LE(std::fabs(double(got) - e.exact), e.tol)
              << type_info(t).name << " n=" << n << " w=" << pattern_name(pw) << " x=" << pattern_name(px)
              << " got " << got << " exact " << e.exact;
          ASSERT_LE(std::fabs(double(got) - double(ref)), 2 * e.tol)
              << type_info(t).name << " n=" << n << " w=" << pattern_name(pw) << " x=" << pattern_name(px)
              << " simd " << got << " scalar " << ref;
        }
      }
    }
  }
}

// Quantized dot vs the double dot of the ORIGINAL floats: the difference is
// bounded by the quantization errors, Σ|w−ŵ|·|x| + Σ|ŵ|·|x−x̂|, plus rounding.
TEST_P(KernelIsa, QuantizedDotWithinQuantizationErrorOfExact) {
  for (TypeId t : kWeightTypes) {
    for (uint32_t seed = 1; seed <= 3; ++seed) {
      const int64_t n = is_block_type(t) ? 2048 : 1000;
      const Operands o = make_operands(t, n, Pattern::Random, Pattern::Random, seed);
      double exact = 0, bound = 0, abs_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const size_t k = size_t(i);
        exact += double(o.w[k]) * o.x[k];
        abs_sum += std::fabs(double(o.w[k]) * o.x[k]);
        bound += std::fabs(double(o.w[k]) - o.wd[k]) * std::fabs(o.x[k]) + std::fabs(o.wd[k]) * std::fabs(double(o.x[k]) - o.xd[k]);
      }
      const float got = kernels::vec_dot(t, n, o.wq.data(), o.xq.data());
      EXPECT_LE(std::fabs(got - exact), bound + expected_dot(o).tol) << type_info(t).name;
      // And the bound itself is meaningful: relative to Σ|w·x| it shrinks with bits.
      const double rel = bound / abs_sum;
      const double limit = t == TypeId::Q4_0 || t == TypeId::Q4_1 ? 0.2
                           : t == TypeId::Q5_0 || t == TypeId::Q5_1 ? 0.1
                           : t == TypeId::Q8_0 ? 0.02 : t == TypeId::F32 ? 1e-6 : 0.02;
      EXPECT_LT(rel, limit) << type_info(t).name;
    }
  }
}

// The VNNI matmul for Q4_0, Q5_0 and IQ4_NL (16 rows per vector, every token
// count; their packed layouts' arithmetic) sums blocks in the scalar
// reference's order, not in vec_dot's 8-lane order.
namespace {
bool lane_prefill(TypeId t, int64_t /*n_tok*/) {
  return kernels::active_isa() == Isa::Avx512 && (t == TypeId::Q4_0 || t == TypeId::Q5_0 || t == TypeId::IQ4_NL);
}
}  // namespace

// matmul_rows over row ranges and token counts that exercise every tile and
// tail: each output equals vec_dot of its row and token (bit-for-bit for block
// types, whose tiles accumulate in the same order, except lane_prefill; within
// the rounding bound for float types, whose single dots use more
// accumulators), and nothing outside [r0, r1) is written.
TEST_P(KernelIsa, MatmulRowsMatchesVecDot) {
  for (TypeId t : kWeightTypes) {
    const int64_t n = is_block_type(t) ? 128 : 75;
    const int64_t rows = 11, ldy = rows + 3;
    const TypeInfo& wi = type_info(t);
    const TypeId xt = wi.vec_dot_type;
    const size_t w_stride = row_size(t, n) + 6;  // padded rows
    const size_t x_stride = row_size(xt, n) + 10;
    std::vector<uint8_t> W(w_stride * rows), X(x_stride * 9);
    for (int64_t r = 0; r < rows; ++r) {
      auto v = make_data(n, r == 3 ? Pattern::Outlier : Pattern::Random, uint32_t(100 + r));
      wi.from_float(v.data(), W.data() + size_t(r) * w_stride, n);
    }
    for (int64_t k = 0; k < 9; ++k) {
      auto v = make_data(n, Pattern::Random, uint32_t(200 + k));
      kernels::convert_activations(xt, v.data(), X.data() + size_t(k) * x_stride, n);
    }
    for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 11}, {0, 4}, {1, 10}, {5, 6}, {3, 11}}) {
      for (int64_t n_tok : {1, 2, 3, 4, 5, 7, 9}) {
        std::vector<float> Y(size_t(ldy * n_tok), -777.0f);
        kernels::matmul_rows(t, n, W.data(), w_stride, r0, r1, X.data(), x_stride, n_tok, Y.data(), ldy);
        for (int64_t tok = 0; tok < n_tok; ++tok)
          for (int64_t r = 0; r < ldy; ++r) {
            const float y = Y[size_t(tok * ldy + r)];
            if (r < r0 || r >= r1) {
              ASSERT_EQ(y, -777.0f) << "wrote outside the row range: r=" << r;
              continue;
            }
            const float d = kernels::vec_dot(t, n, W.data() + size_t(r) * w_stride, X.data() + size_t(tok) * x_stride);
            if (lane_prefill(t, n_tok)) {
              ASSERT_NEAR(y, d, 1e-5 * (std::fabs(d) + 1.0)) << wi.name << " r=" << r << " tok=" << tok;
            } else if (is_block_type(t)) {
              ASSERT_EQ(y, d) << wi.name << " r=" << r << " tok=" << tok << " n_tok=" << n_tok;
            } else {
              ASSERT_NEAR(y, d, 1e-5 * (std::fabs(d) + 1.0)) << wi.name << " r=" << r << " tok=" << tok;
            }
          }
      }
    }
  }
}

// Called from several threads on disjoint row ranges (as the runtime does):
// same results as one call, and no allocation on any path.
TEST_P(KernelIsa, MatmulRowsThreadSafeAndAllocationFree) {
  const int64_t n = 512, rows = 64;
  // 5 tokens: decode's paths; 20: the long-batch paths (AVX-512 VNNI Q4_0 packs its weights).
  for (int64_t n_tok : {5, 20}) {
    for (TypeId t : kWeightTypes) {
      const TypeInfo& wi = type_info(t);
      const TypeId xt = wi.vec_dot_type;
      const size_t ws = row_size(t, n), xs = row_size(xt, n);
      std::vector<uint8_t> W(ws * rows), X(xs * n_tok);
      for (int64_t r = 0; r < rows; ++r) {
        auto v = make_data(n, Pattern::Random, uint32_t(r + 1));
        wi.from_float(v.data(), W.data() + size_t(r) * ws, n);
      }
      std::vector<float> xf = make_data(n * n_tok, Pattern::Random, 99);
      std::vector<float> one(size_t(rows * n_tok)), many(size_t(rows * n_tok));
      const long before = g_allocs.load();
      for (int64_t k = 0; k < n_tok; ++k)
        kernels::convert_activations(xt, xf.data() + k * n, X.data() + size_t(k) * xs, n);
      kernels::matmul_rows(t, n, W.data(), ws, 0, rows, X.data(), xs, n_tok, one.data(), rows);
      (void)kernels::vec_dot(t, n, W.data(), X.data());
      EXPECT_EQ(g_allocs.load() - before, 0) << wi.name << ": kernels allocated";
      std::vector<std::thread> th;
      for (int k = 0; k < 4; ++k)
        th.emplace_back([&, k] {
          for (int rep = 0; rep < 20; ++rep)
            kernels::matmul_rows(t, n, W.data(), ws, k * 16, k * 16 + 16, X.data(), xs, n_tok, many.data(), rows);
        });
      for (auto& h : th) h.join();
      EXPECT_EQ(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)), 0) << wi.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KernelIsa, ::testing::ValuesIn(test::all_isas()), test::isa_test_name);

// Float weights give the same bits on the AVX2 and AVX-512 paths (one
// summation order: 16 lanes, a zero-padded tail step, hsum16's tree), so a
// float-weight model's results, and llama.cpp golden checks on them, do not
// depend on the machine's ISA (stories260K's F16 ffn_down, n = 172).
// BF16 on a CPU with AVX-512 BF16 is the exception: vdpbf16ps adds two
// products per lane, its own order (VecDotMatchesExactAndScalar bounds it).
TEST(KernelDispatch, FloatTypesSameBitsOnAvx2AndAvx512) {
  if (kernels::best_supported_isa() != Isa::Avx512) GTEST_SKIP() << "needs AVX-512";
  const Isa saved = kernels::active_isa();
  std::vector<TypeId> same_bits = {TypeId::F32, TypeId::F16};
  if (!x86_features().avx512bf16) same_bits.push_back(TypeId::BF16);
  for (TypeId t : same_bits)
    for (int64_t n : {5, 16, 75, 172, 256}) {
      const int64_t rows = 7, n_tok = 5;
      const TypeInfo& wi = type_info(t);
      const size_t ws = row_size(t, n), xs = row_size(wi.vec_dot_type, n);
      std::vector<uint8_t> W(ws * rows), X(xs * n_tok);
      for (int64_t r = 0; r < rows; ++r)
        wi.from_float(make_data(n, Pattern::Random, uint32_t(r + 3)).data(), W.data() + size_t(r) * ws, n);
      for (int64_t k = 0; k < n_tok; ++k)
        kernels::convert_activations(wi.vec_dot_type, make_data(n, Pattern::Mixed, uint32_t(k + 40)).data(),
                                     X.data() + size_t(k) * xs, n);
      std::vector<float> y[2];
      for (int i = 0; i < 2; ++i) {
        kernels::set_isa(i == 0 ? Isa::Avx2 : Isa::Avx512);
        y[i].assign(size_t(rows * n_tok), 0.0f);
        kernels::matmul_rows(t, n, W.data(), ws, 0, rows, X.data(), xs, n_tok, y[i].data(), rows);
        y[i].push_back(kernels::vec_dot(t, n, W.data(), X.data()));
      }
      EXPECT_EQ(std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(float)), 0) << wi.name << " n=" << n;
    }
  kernels::set_isa(saved);
}

TEST(KernelDispatch, IsaSelection) {
  const Isa saved = kernels::active_isa();
  EXPECT_NO_THROW(kernels::set_isa(Isa::Scalar));
  EXPECT_EQ(kernels::active_isa(), Isa::Scalar);
  for (Isa isa : {Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::NeonDot}) {
    if (kernels::isa_supported(isa)) {
      EXPECT_NO_THROW(kernels::set_isa(isa));
      EXPECT_EQ(kernels::active_isa(), isa);
    } else {
      EXPECT_THROW(kernels::set_isa(isa), Error) << kernels::isa_name(isa);
    }
  }
  kernels::set_isa(saved);
  EXPECT_STREQ(kernels::isa_name(Isa::Avx2), "avx2");
  EXPECT_STREQ(kernels::isa_name(Isa::NeonDot), "neon_dot");
  // One architecture's paths per build, scalar first; the best is the last supported one.
  const auto& isas = kernels::all_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::Scalar);
  Isa best = Isa::Scalar;
  for (Isa isa : isas)
    if (kernels::isa_supported(isa)) best = isa;
  EXPECT_EQ(kernels::best_supported_isa(), best);
#if defined(__x86_64__)
  EXPECT_FALSE(kernels::isa_supported(Isa::Neon));
#elif defined(__aarch64__)
  EXPECT_FALSE(kernels::isa_supported(Isa::Avx2));
  EXPECT_TRUE(kernels::isa_supported(Isa::Neon));  // baseline on ARMv8-A
#endif
}

TEST(KernelDispatch, ClearErrorsForMissingKernels) {
  std::vector<uint8_t> buf(4096);
  try {
    (void)kernels::vec_dot(TypeId::Q8_K, 256, buf.data(), buf.data());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q8_K"), std::string::npos) << e.what();
  }
  std::vector<float> x(33, 1.0f);
  EXPECT_THROW(kernels::convert_activations(TypeId::Q8_0, x.data(), buf.data(), 33), Error);
  EXPECT_THROW(kernels::convert_activations(TypeId::Q4_0, x.data(), buf.data(), 32), Error);
}
