// k-quant (Q2_K..Q6_K with Q8_K activations) and IQ4_NL (Q8_0) kernels: every
// SIMD path against the scalar reference, and the scalar reference against a
// double-precision dot of the dequantized operands, on random raw blocks (all
// code and scale bit patterns) and adversarial ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "isa_test.h"
#include "qinfer/core/fp16.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/iq4_nl.h"
#include "qinfer/quant/q2_k.h"
#include "qinfer/quant/q3_k.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/q6_k.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_k.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;
using kernels::Isa;

namespace {

constexpr double kEps32 = 1.0 / (1 << 24);  // float unit roundoff

// What the tolerance needs to know about a weight type: where its fp16 scales
// sit in a block and the largest |scale|, |code| (including the offset the
// SIMD paths add to signed codes) and |min| factor an element can get.
struct Kind {
  TypeId type;
  kernels::VecDotFn ref;
  size_t d_off;
  int dmin_off;  // -1: no min
  double smax, umax, mmax;
};

const Kind kKinds[] = {
    {TypeId::Q2_K, kernels::vec_dot_q2_k_q8_k_generic, offsetof(BlockQ2_K, d), int(offsetof(BlockQ2_K, dmin)), 15, 3, 15},
    {TypeId::Q3_K, kernels::vec_dot_q3_k_q8_k_generic, offsetof(BlockQ3_K, d), -1, 32, 7 + 4, 0},
    {TypeId::Q4_K, kernels::vec_dot_q4_k_q8_k_generic, offsetof(BlockQ4_K, d), int(offsetof(BlockQ4_K, dmin)), 63, 15, 63},
    {TypeId::Q5_K, kernels::vec_dot_q5_k_q8_k_generic, offsetof(BlockQ5_K, d), int(offsetof(BlockQ5_K, dmin)), 63, 31, 63},
    {TypeId::Q6_K, kernels::vec_dot_q6_k_q8_k_generic, offsetof(BlockQ6_K, d), -1, 128, 63 + 32, 0},
    {TypeId::IQ4_NL, kernels::vec_dot_iq4_nl_q8_0_generic, offsetof(BlockIQ4_NL, d), -1, 1, 255, 0},
};

enum class WPat { Random, Zeros, MaxBytes, MinBytes, Outlier, Denormal, Mixed };
enum class XPat { Random, Zeros, Constant, Outlier, Denormal };
const WPat kWPats[] = {WPat::Random, WPat::Zeros, WPat::MaxBytes, WPat::MinBytes, WPat::Outlier, WPat::Denormal, WPat::Mixed};
const XPat kXPats[] = {XPat::Random, XPat::Zeros, XPat::Constant, XPat::Outlier, XPat::Denormal};

uint16_t random_fp16(std::mt19937& rng, float scale) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  return f32_to_fp16(g(rng) * scale);
}

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// A weight row of n elements: raw random bytes (every code and scale pattern
// is valid) with the fp16 super-scales set per pattern.
std::vector<uint8_t> make_weights(const Kind& k, int64_t n, WPat pat, uint32_t seed) {
  const TypeInfo& info = type_info(k.type);
  const int64_t nb = n / info.block_size;
  std::vector<uint8_t> w(row_size(k.type, n));
  std::mt19937 rng(seed);
  for (auto& b : w) b = uint8_t(rng());
  if (pat == WPat::Zeros) std::fill(w.begin(), w.end(), 0);
  if (pat == WPat::MaxBytes) std::fill(w.begin(), w.end(), 0xFF);
  if (pat == WPat::MinBytes) std::fill(w.begin(), w.end(), 0x00);
  for (int64_t b = 0; b < nb && pat != WPat::Zeros; ++b) {
    uint8_t* blk = w.data() + size_t(b) * info.type_size;
    uint16_t d = random_fp16(rng, 0.01f), dmin = random_fp16(rng, 0.01f);
    switch (pat) {
      case WPat::MaxBytes:
      case WPat::MinBytes: d = dmin = f32_to_fp16(1.0f); break;
      case WPat::Outlier:
        if (b == nb / 2) d = 0x7BFF;  // 65504, the largest fp16
        break;
      case WPat::Denormal:  // fp16 subnormals, either sign
        d = uint16_t((rng() & 0x3FF) | 1 | (rng() & 0x8000));
        dmin = uint16_t((rng() & 0x3FF) | 1 | (rng() & 0x8000));
        break;
      case WPat::Mixed:
        if (b % 3 == 0) d = dmin = 0;
        if (b % 3 == 1) d = uint16_t(rng() & 0x3FF);
        if (b % 3 == 2) d = 0x7BFF;
        break;
      default: break;
    }
    put16(blk + k.d_off, d);
    if (k.dmin_off >= 0) put16(blk + k.dmin_off, dmin);
  }
  return w;
}

std::vector<float> make_floats(int64_t n, XPat pat, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = g(rng);
  switch (pat) {
    case XPat::Random: break;
    case XPat::Zeros: std::fill(v.begin(), v.end(), 0.0f); break;
    case XPat::Constant: std::fill(v.begin(), v.end(), 0.75f); break;  // every code saturates at ±127
    case XPat::Outlier: v[size_t(rng() % n)] = 1e4f; break;
    case XPat::Denormal:  // Q8_K/Q8_0 scales near FLT_MIN: d_w·d_x and the dequantized values are subnormal
      for (auto& x : v) x *= 1e-36f;
      break;
  }
  return v;
}

std::vector<uint8_t> convert(TypeId xt, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_size(xt, int64_t(x.size())));
  kernels::convert_activations(xt, x.data(), q.data(), int64_t(x.size()));
  return q;
}

// Per activation block: its float scale and Σ|code|.
struct XBlock {
  double d, abs_codes;
};
std::vector<XBlock> x_blocks(TypeId xt, const std::vector<uint8_t>& xq) {
  std::vector<XBlock> out;
  if (xt == TypeId::Q8_K) {
    const auto* b = reinterpret_cast<const BlockQ8_K*>(xq.data());
    for (size_t i = 0; i < xq.size() / sizeof(BlockQ8_K); ++i) {
      double s = 0;
      for (int8_t q : b[i].qs) s += std::abs(q);
      out.push_back({b[i].d, s});
    }
  } else {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(xq.data());
    for (size_t i = 0; i < xq.size() / sizeof(BlockQ8_0); ++i) {
      double s = 0;
      for (int8_t q : b[i].qs) s += std::abs(q);
      out.push_back({fp16_to_f32(b[i].d), s});
    }
  }
  return out;
}

// Rounding bound shared by the scalar and SIMD dots. Both compute exact integer
// sums per (super-)block, or per lane of one; each lane is at most
// smax·umax·Σ|y| in magnitude (mins: mmax·Σ|y|). Each is rounded when converted
// to float (ε), multiplied by the rounded d_w·d_x (2ε) and accumulated over at
// most nb blocks plus an 8-lane horizontal sum (nb + 3 roundings), so
// |err| <= (nb + 6)·ε·M with M = Σ_blocks (|d_w·d_x|·smax·umax + |dmin·d_x|·mmax)·Σ|y|.
// Dequantized weights (d·sc·q − dmin·m, 3 roundings) and activations (1) stay
// within 4ε·M of exact, so the scalar path vs a double dot of them is within
// (nb + 10)·ε·M; we allow 2× that. Subnormal results round absolutely (at
// most 2^-150), not relatively: d_w·d_x times the block sum adds
// 2^-149·(smax·umax + mmax)·Σ|y| per block, a dequantized activation d_x·y
// adds 2^-149·|ŵ| per element, |ŵ| <= |d_w|·smax·umax + |dmin|·mmax.
double tolerance(const Kind& k, const std::vector<uint8_t>& wq, const std::vector<XBlock>& xb) {
  const size_t bsz = type_info(k.type).type_size;
  const int64_t bs = type_info(k.type).block_size;
  double m = 0, under = 0;
  for (size_t b = 0; b < xb.size(); ++b) {
    uint16_t d, dmin = 0;
    std::memcpy(&d, wq.data() + b * bsz + k.d_off, 2);
    if (k.dmin_off >= 0) std::memcpy(&dmin, wq.data() + b * bsz + size_t(k.dmin_off), 2);
    const double dd = std::fabs(double(fp16_to_f32(d)) * xb[b].d);
    const double dm = std::fabs(double(fp16_to_f32(dmin)) * xb[b].d);
    m += (dd * k.smax * k.umax + dm * k.mmax) * xb[b].abs_codes;
    const double wmax = std::fabs(fp16_to_f32(d)) * k.smax * k.umax + std::fabs(fp16_to_f32(dmin)) * k.mmax;
    under += std::ldexp(1.0, -149) * ((k.smax * k.umax + k.mmax) * xb[b].abs_codes + wmax * double(bs));
  }
  return 2 * (double(xb.size()) + 10) * kEps32 * m + under;
}

double dequantized_dot(TypeId wt, const std::vector<uint8_t>& wq, TypeId xt, const std::vector<uint8_t>& xq,
                       int64_t n) {
  std::vector<float> w(static_cast<size_t>(n)), x(static_cast<size_t>(n));
  type_info(wt).to_float(wq.data(), w.data(), n);
  type_info(xt).to_float(xq.data(), x.data(), n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(w[size_t(i)]) * double(x[size_t(i)]);
  return s;
}

std::vector<int64_t> lengths_for(const Kind& k) {
  if (k.type == TypeId::IQ4_NL) return {32, 96, 256, 1024, 4096};
  return {256, 512, 1280, 2048, 4096};
}

std::string label(const Kind& k, int64_t n, WPat pw, XPat px) {
  return std::string(type_info(k.type).name) + " n=" + std::to_string(n) + " w#" + std::to_string(int(pw)) + " x#" +
         std::to_string(int(px));
}

class KQuantIsa : public test::IsaTest {};


}  // namespace

// The dispatched dot (this ISA) against the scalar reference, within the
// rounding bound: both compute the same integers and differ only in how the
// scaled partial sums are rounded.
TEST_P(KQuantIsa, VecDotMatchesScalarReference) {
  for (const Kind& k : kKinds) {
    const TypeId xt = type_info(k.type).vec_dot_type;
    for (int64_t n : lengths_for(k))
      for (WPat pw : kWPats)
        for (XPat px : kXPats) {
          const auto wq = make_weights(k, n, pw, uint32_t(n * 13 + int(pw)));
          const auto xq = convert(xt, make_floats(n, px, uint32_t(n * 7 + int(px))));
          const float got = kernels::vec_dot(k.type, n, wq.data(), xq.data());
          const float ref = k.ref(n, wq.data(), xq.data());
          ASSERT_TRUE(std::isfinite(ref)) << label(k, n, pw, px);
          ASSERT_LE(std::fabs(double(got) - double(ref)), tolerance(k, wq, x_blocks(xt, xq)))
              << label(k, n, pw, px) << " simd " << got << " scalar " << ref;
        }
  }
}

// With unit scales and small activation codes every partial sum is an integer
// below 2^24, so every path must give exactly the double dot of the
// dequantized operands: catches any code, scale or min mapped to the wrong element.
TEST_P(KQuantIsa, VecDotExactOnIntegerData) {
  for (const Kind& k : kKinds) {
    const TypeId xt = type_info(k.type).vec_dot_type;
    for (int64_t n : {256, 512}) {
      for (uint32_t seed = 1; seed <= 20; ++seed) {
        auto wq = make_weights(k, n, WPat::MaxBytes, seed);  // d = dmin = 1 ...
        std::mt19937 rng(seed);
        const size_t bsz = type_info(k.type).type_size;
        for (size_t i = 0; i < wq.size(); ++i)  // ... and random codes and scales elsewhere
          if (i % bsz != k.d_off && i % bsz != k.d_off + 1 &&
              (k.dmin_off < 0 || (i % bsz != size_t(k.dmin_off) && i % bsz != size_t(k.dmin_off) + 1)))
            wq[i] = uint8_t(rng());
        std::vector<uint8_t> xq(row_size(xt, n));
        if (xt == TypeId::Q8_K) {
          auto* b = reinterpret_cast<BlockQ8_K*>(xq.data());
          for (int64_t i = 0; i < n / 256; ++i) {
            b[i].d = 1.0f;
            for (auto& q : b[i].qs) q = int8_t(int(rng() % 5) - 2);
            for (int g = 0; g < 16; ++g) {
              int s = 0;
              for (int j = 0; j < 16; ++j) s += b[i].qs[16 * g + j];
              b[i].bsums[g] = int16_t(s);
            }
          }
        } else {
          auto* b = reinterpret_cast<BlockQ8_0*>(xq.data());
          for (int64_t i = 0; i < n / 32; ++i) {
            b[i].d = f32_to_fp16(1.0f);
            for (auto& q : b[i].qs) q = int8_t(int(rng() % 5) - 2);
          }
        }
        const auto xb = x_blocks(xt, xq);
        double m = 0;
        for (const auto& b : xb) m += (k.smax * k.umax + k.mmax) * b.abs_codes;
        ASSERT_LT(m, 16777216.0) << "test data too large for exact float sums";
        const double exact = dequantized_dot(k.type, wq, xt, xq, n);
        EXPECT_EQ(double(k.ref(n, wq.data(), xq.data())), exact) << type_info(k.type).name << " scalar seed " << seed;
        EXPECT_EQ(double(kernels::vec_dot(k.type, n, wq.data(), xq.data())), exact)
            << type_info(k.type).name << " seed " << seed;
      }
    }
  }
}

// The VNNI matmul for IQ4_NL sums blocks in the scalar reference's order (as
// its packed layout, iq4_nlx16, does), not in vec_dot's 8-lane order.
namespace {
bool lane_order(TypeId t) { return kernels::active_isa() == kernels::Isa::Avx512 && t == TypeId::IQ4_NL; }
}  // namespace

// matmul_rows over row ranges and 1..17 tokens (every tile and tail shape):
// each output is bit-identical to vec_dot of its row and token (the tiles
// accumulate each output in the same order), and nothing outside [r0, r1) is written.
TEST_P(KQuantIsa, MatmulRowsMatchesVecDot) {
  for (const Kind& k : kKinds) {
    const TypeInfo& wi = type_info(k.type);
    const TypeId xt = wi.vec_dot_type;
    const int64_t n = 512, rows = 11, ldy = rows + 3, max_tok = 17;
    const size_t ws = row_size(k.type, n) + 6, xs = row_size(xt, n) + 10;  // padded rows
    std::vector<uint8_t> W(ws * rows), X(xs * max_tok);
    for (int64_t r = 0; r < rows; ++r) {
      const auto w = make_weights(k, n, r == 3 ? WPat::Outlier : WPat::Random, uint32_t(100 + r));
      std::memcpy(W.data() + size_t(r) * ws, w.data(), w.size());
    }
    for (int64_t t = 0; t < max_tok; ++t) {
      const auto x = convert(xt, make_floats(n, t == 5 ? XPat::Outlier : XPat::Random, uint32_t(200 + t)));
      std::memcpy(X.data() + size_t(t) * xs, x.data(), x.size());
    }
    for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 11}, {0, 4}, {1, 10}, {5, 6}, {3, 11}}) {
      for (int64_t n_tok = 1; n_tok <= max_tok; ++n_tok) {
        std::vector<float> Y(size_t(ldy * n_tok), -777.0f);
        kernels::matmul_rows(k.type, n, W.data(), ws, r0, r1, X.data(), xs, n_tok, Y.data(), ldy);
        for (int64_t t = 0; t < n_tok; ++t)
          for (int64_t r = 0; r < ldy; ++r) {
            const float y = Y[size_t(t * ldy + r)];
            if (r < r0 || r >= r1) {
              ASSERT_EQ(y, -777.0f) << wi.name << " wrote outside the row range: r=" << r;
              continue;
            }
            const float d = kernels::vec_dot(k.type, n, W.data() + size_t(r) * ws, X.data() + size_t(t) * xs);
            if (lane_order(k.type))
              ASSERT_NEAR(y, d, 1e-5 * (std::fabs(d) + 1.0)) << wi.name << " r=" << r << " tok=" << t;
            else
              ASSERT_EQ(y, d) << wi.name << " r=" << r << " tok=" << t << " n_tok=" << n_tok << " rows " << r0 << ".." << r1;
          }
      }
    }
  }
}

// Real quantized weights (the quantizers' output) and activations: the
// dispatched dot within the rounding bound of the double dot of the dequantized operands.
TEST_P(KQuantIsa, QuantizedRowsMatchDequantizedDot) {
  for (const Kind& k : kKinds) {
    const TypeInfo& wi = type_info(k.type);
    const TypeId xt = wi.vec_dot_type;
    for (int64_t n : {256, 4096}) {
      const auto wf = make_floats(n, XPat::Random, uint32_t(n + 1));
      std::vector<uint8_t> wq(row_size(k.type, n));
      wi.from_float(wf.data(), wq.data(), n);
      for (XPat px : kXPats) {
        const auto xq = convert(xt, make_floats(n, px, uint32_t(n + 2)));
        const double exact = dequantized_dot(k.type, wq, xt, xq, n);
        const float got = kernels::vec_dot(k.type, n, wq.data(), xq.data());
        EXPECT_LE(std::fabs(double(got) - exact), tolerance(k, wq, x_blocks(xt, xq)))
            << label(k, n, WPat::Random, px) << " got " << got << " exact " << exact;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KQuantIsa, ::testing::ValuesIn(test::all_isas()), test::isa_test_name);

// The scalar reference against the double dot of the dequantized operands
// (dequantize_row_* from quant/, written independently of the kernels) on
// the adversarial patterns, with the tolerance derived at tolerance().
TEST(KQuantReference, ScalarMatchesDequantizedDot) {
  for (const Kind& k : kKinds) {
    const TypeId xt = type_info(k.type).vec_dot_type;
    for (int64_t n : lengths_for(k))
      for (WPat pw : kWPats)
        for (XPat px : kXPats) {
          const auto wq = make_weights(k, n, pw, uint32_t(n * 17 + int(pw)));
          const auto xq = convert(xt, make_floats(n, px, uint32_t(n * 3 + int(px))));
          const double exact = dequantized_dot(k.type, wq, xt, xq, n);
          const float ref = k.ref(n, wq.data(), xq.data());
          ASSERT_LE(std::fabs(double(ref) - exact), tolerance(k, wq, x_blocks(xt, xq)))
              << label(k, n, pw, px) << " scalar " << ref << " exact " << exact;
        }
  }
}

// Q8_K activations: bit-identical to quantize_row_q8_k_ref on every ISA, and
// bsums hold the 16-code sums the k-quant dots rely on (ggml fills them too).
TEST(KQuantReference, Q8KConversionFillsBsums) {
  const Isa saved = kernels::active_isa();
  for (Isa isa : kernels::all_isas()) {
    if (!kernels::isa_supported(isa)) continue;
    kernels::set_isa(isa);
    for (int variant = 0; variant < int(std::size(kXPats)) + 1; ++variant) {
      const int64_t n = 1024;
      const XPat px = variant < int(std::size(kXPats)) ? kXPats[variant] : XPat::Random;
      auto x = make_floats(n, px, 5);
      if (variant == int(std::size(kXPats))) {  // magnitude ties of both signs: the first one sets the sign
        x[37] = -9.0f;
        x[200] = 9.0f;
        x[256 + 100] = 9.0f;
        x[256 + 101] = -9.0f;
      }
      const auto q = convert(TypeId::Q8_K, x);
      std::vector<BlockQ8_K> ref(size_t(n / 256));
      quantize_row_q8_k_ref(x.data(), ref.data(), n);
      EXPECT_EQ(std::memcmp(q.data(), ref.data(), q.size()), 0) << kernels::isa_name(isa) << " variant " << variant;
      const auto* b = reinterpret_cast<const BlockQ8_K*>(q.data());
      for (int64_t i = 0; i < n / 256; ++i)
        for (int g = 0; g < 16; ++g) {
          int s = 0;
          for (int j = 0; j < 16; ++j) s += b[i].qs[16 * g + j];
          ASSERT_EQ(b[i].bsums[g], s) << "block " << i << " group " << g;
        }
    }
  }
  kernels::set_isa(saved);
}
