// The attention kernel: every ISA equals the scalar path bit for bit (an F16
// cache: ggml's non-flash arithmetic with this ISA's F16 dot, bit for bit),
// all of them agree with a float64 softmax(QK^T)V within a bound derived from
// the arithmetic, and the result of a query row does not depend on the other rows
// of its tile, on the pool's block size or on which blocks hold the keys.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "isa_test.h"
#include "qinfer/core/fp16.h"
#include "qinfer/kernels/attention.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;
using kernels::Isa;
using kernels::kKeyTile;

namespace {

constexpr double kEps = 1.0 / (1 << 24);

// One KV head's keys and values in a little pool of blocks, in a shuffled block order.
struct Pool {
  TypeId kt, vt;
  int hd, block, n_keys;
  size_t ktb, vrb, k_bytes, stride;
  std::vector<uint8_t> mem;
  std::vector<int32_t> table;
  std::vector<float> kf, vf;  // the stored values, dequantized: [key][hd]

  Pool(TypeId k_type, TypeId v_type, int head_dim, int block_size, int keys, uint32_t seed)
      : kt(k_type), vt(v_type), hd(head_dim), block(block_size), n_keys(keys) {
    ktb = kernels::k_tile_bytes(kt, hd);
    vrb = kernels::v_row_bytes(vt, hd);
    k_bytes = ktb * size_t(block / kKeyTile);
    stride = k_bytes + vrb * size_t(block);
    const int n_blocks = (keys + block - 1) / block + 2;  // spare blocks: the table skips some
    mem.assign(stride * size_t(n_blocks), 0xA5);          // garbage where nothing was written
    table.resize(size_t(n_blocks));
    std::iota(table.begin(), table.end(), 0);
    std::mt19937 order(seed + uint32_t(block)), rng(seed);  // the values depend on the seed only
    std::shuffle(table.begin(), table.end(), order);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> k(static_cast<size_t>(hd)), v(static_cast<size_t>(hd));
    kf.resize(size_t(keys) * hd);
    vf.resize(size_t(keys) * hd);
    for (int p = 0; p < keys; ++p) {
      for (int d = 0; d < hd; ++d) {
        k[size_t(d)] = g(rng) * (d % 7 == 0 ? 3.0f : 1.0f);
        v[size_t(d)] = g(rng);
      }
      uint8_t* b = mem.data() + size_t(table[size_t(p / block)]) * stride;
      kernels::store_k(kt, hd, k.data(), b + size_t(p % block / kKeyTile) * ktb, p % kKeyTile);
      kernels::store_v(vt, hd, v.data(), b + k_bytes + size_t(p % block) * vrb);
      kernels::load_k(kt, hd, b + size_t(p % block / kKeyTile) * ktb, p % kKeyTile, &kf[size_t(p) * hd]);
      type_info(vt).to_float(b + k_bytes + size_t(p % block) * vrb, &vf[size_t(p) * hd], hd);
    }
  }

  kernels::KvHeadView view() const {
    kernels::KvHeadView v;
    v.k_type = kt;
    v.v_type = vt;
    v.head_dim = hd;
    v.k_base = mem.data();
    v.v_base = mem.data() + k_bytes;
    v.block_stride = stride;
    v.blocks = table.data();
    v.block_size = block;
    return v;
  }
};

// Queries for n_tok tokens × n_heads heads, [tok][n_heads·hd].
std::vector<float> make_q(int n_tok, int n_heads, int hd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> q(size_t(n_tok) * n_heads * hd);
  for (auto& x : q) x = g(rng);
  return q;
}

std::vector<float> run(const Pool& pool, const std::vector<float>& q, int n_tok, int n_heads, int pos0) {
  const int hd = pool.hd;
  std::vector<float> out(q.size(), -1.0f);
  kernels::AttentionRows r;
  r.q = q.data();
  r.out = out.data();
  r.stride = int64_t(n_heads) * hd;
  r.n_tok = n_tok;
  r.n_heads = n_heads;
  r.pos0 = pos0;
  r.scale = 1.0f / std::sqrt(float(hd));
  std::vector<uint8_t> scratch(kernels::attention_scratch_bytes(hd, n_tok * n_heads, pos0 + n_tok));
  kernels::attention(pool.view(), r, scratch.data(), scratch.size());
  return out;
}

class AttentionIsa : public test::IsaTest {};

const TypeId kCacheTypes[] = {TypeId::F16, TypeId::Q8_0, TypeId::Q4_0};

struct Shape {
  int hd, block, n_tok, n_heads, pos0;
};
const Shape kShapes[] = {{64, 16, 1, 8, 40}, {64, 32, 5, 2, 0}, {128, 16, 3, 4, 17}, {32, 48, 9, 1, 60},
                         {96, 16, 2, 3, 15}};

// Σ of 16 floats as [i]+[i+8], then [i]+[i+4], [i]+[i+2], [0]+[1] (one vector's horizontal sum).
float halving_sum16(const float* v) {
  float a[8];
  for (int i = 0; i < 8; ++i) a[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; ++i) a[i] += a[i + 4];
  for (int i = 0; i < 2; ++i) a[i] += a[i + 2];
  return a[0] + a[1];
}

}  // namespace

// An F16 K and V cache computes what llama.cpp computes without flash
// attention (its perplexity goldens): scores = this ISA's F16 dot of the key
// row and Q rounded to F16, times the scale; softmax as ggml's SIMD soft_max
// (exp 16 keys at a time, here kernels::exp_approx; each group's float sum
// added in double); probabilities rounded to F16; out = Σ p16·v (multiply, then add).
TEST_P(AttentionIsa, F16CacheIsGgmlArithmetic) {
  kernels::set_isa(GetParam());
  std::vector<Shape> shapes(std::begin(kShapes), std::end(kShapes));
  for (int hd : {8, 12, 40}) shapes.push_back({hd, 16, 4, 2, 29});  // F16 takes any head dimension (stories260K: 8)
  shapes.push_back({64, 64, 3, 8, 301});  // many 16-key softmax groups, a ragged last one
  // Several 16-row score blocks, a token split between two of them, 4-row tiles
  // that straddle tokens (3 heads), and a head dimension with a 16-lane tail.
  shapes.push_back({64, 16, 7, 3, 50});
  shapes.push_back({72, 16, 5, 4, 33});
  shapes.push_back({64, 32, 6, 8, 700});
  for (const Shape& s : shapes) {
    const Pool pool(TypeId::F16, TypeId::F16, s.hd, s.block, s.pos0 + s.n_tok, uint32_t(s.hd + 11));
    const auto q = make_q(s.n_tok, s.n_heads, s.hd, uint32_t(s.pos0 + 3));
    const auto got = run(pool, q, s.n_tok, s.n_heads, s.pos0);
    const float scale = 1.0f / std::sqrt(float(s.hd));
    std::vector<uint16_t> q16(size_t(s.hd)), k16(size_t(s.hd));
    for (int t = 0; t < s.n_tok; ++t)
      for (int h = 0; h < s.n_heads; ++h) {
        const float* qr = &q[(size_t(t) * s.n_heads + h) * s.hd];
        for (int d = 0; d < s.hd; ++d) q16[size_t(d)] = f32_to_fp16(qr[d]);
        const int n = s.pos0 + t + 1;
        std::vector<float> p(static_cast<size_t>(n));
        float mx = -INFINITY;
        for (int j = 0; j < n; ++j) {
          for (int d = 0; d < s.hd; ++d) k16[size_t(d)] = f32_to_fp16(pool.kf[size_t(j) * s.hd + d]);
          p[size_t(j)] = kernels::vec_dot(TypeId::F16, s.hd, k16.data(), q16.data()) * scale;
          mx = std::max(mx, p[size_t(j)]);
        }
        double sum = 0;
        for (int j0 = 0; j0 < n; j0 += kKeyTile) {
          float e[kKeyTile];
          for (int i = 0; i < kKeyTile; ++i) e[i] = j0 + i < n ? kernels::exp_approx(p[size_t(j0 + i)] - mx) : 0.0f;
          for (int i = 0; i < kKeyTile && j0 + i < n; ++i) p[size_t(j0 + i)] = e[i];
          sum += double(halving_sum16(e));
        }
        const float inv = float(1.0 / sum);
        for (float& x : p) x = fp16_to_f32(f32_to_fp16(x * inv));
        for (int d = 0; d < s.hd; ++d) {
          float want = 0;
          for (int j = 0; j < n; ++j) {
            const float prod = p[size_t(j)] * pool.vf[size_t(j) * s.hd + d];
            want += prod;
          }
          const float g = got[(size_t(t) * s.n_heads + h) * s.hd + d];
          ASSERT_EQ(std::memcmp(&g, &want, 4), 0) << "hd " << s.hd << " token " << t << " head " << h << " dim " << d
                                                  << ": " << g << " vs " << want;
        }
      }
  }
}

// This ISA's kernel equals the scalar one bit for bit (F16 K with F16 V: see above).
TEST_P(AttentionIsa, EqualsScalarBitForBit) {
  for (TypeId kt : kCacheTypes)
    for (TypeId vt : kCacheTypes)
      for (const Shape& s : kShapes) {
        if (kt == TypeId::F16 && vt == TypeId::F16) continue;
        const Pool pool(kt, vt, s.hd, s.block, s.pos0 + s.n_tok, uint32_t(s.hd + s.pos0));
        const auto q = make_q(s.n_tok, s.n_heads, s.hd, uint32_t(s.n_tok * 13 + s.hd));
        kernels::set_isa(Isa::Scalar);
        const auto want = run(pool, q, s.n_tok, s.n_heads, s.pos0);
        kernels::set_isa(GetParam());
        const auto got = run(pool, q, s.n_tok, s.n_heads, s.pos0);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_EQ(std::memcmp(&want[i], &got[i], 4), 0)
              << "K " << type_info(kt).name << " V " << type_info(vt).name << " hd " << s.hd << " element " << i
              << ": scalar " << want[i] << ", " << kernels::isa_name(GetParam()) << " " << got[i];
      }
}

// Against softmax(q·k·scale)·v in float64 over the stored (dequantized) K/V,
// with Q in the form the kernel feeds the dot (F16-rounded or Q8_0). Bound:
// each score's rounding error δ ≤ (hd/4 + 3)·ε·scale·Σ|q_d·k_d| (four FMA
// chains and two adds), exp's 2e-7 relative error, the float sums of l
// and of p·v over n keys (n·ε each), and with an F16 V the F16 rounding of
// each probability (2^-11 relative, Σp = 1):
// |err| ≤ max|v|·(2·δmax + 1e-6 + 2(n+4)·ε [+ 2^-11]).
TEST_P(AttentionIsa, MatchesFloat64Softmax) {
  kernels::set_isa(GetParam());
  for (TypeId kt : kCacheTypes)
    for (TypeId vt : kCacheTypes)
      for (const Shape& s : kShapes) {
        const Pool pool(kt, vt, s.hd, s.block, s.pos0 + s.n_tok, uint32_t(s.hd * 3 + s.n_tok));
        const auto q = make_q(s.n_tok, s.n_heads, s.hd, uint32_t(s.pos0 + 5));
        const auto got = run(pool, q, s.n_tok, s.n_heads, s.pos0);
        const double scale = 1.0 / std::sqrt(double(s.hd));
        for (int t = 0; t < s.n_tok; ++t)
          for (int h = 0; h < s.n_heads; ++h) {
            const float* qr = &q[(size_t(t) * s.n_heads + h) * s.hd];
            std::vector<float> qd(static_cast<size_t>(s.hd));
            if (kt == TypeId::F16) {
              for (int d = 0; d < s.hd; ++d) qd[size_t(d)] = fp16_to_f32(f32_to_fp16(qr[d]));
            } else {
              std::vector<uint8_t> q8(row_size(TypeId::Q8_0, s.hd));
              kernels::convert_activations(TypeId::Q8_0, qr, q8.data(), s.hd);
              type_info(TypeId::Q8_0).to_float(q8.data(), qd.data(), s.hd);
            }
            const int n = s.pos0 + t + 1;
            std::vector<double> sc(static_cast<size_t>(n));
            double mx = -1e300, dmax = 0, vmax = 0;
            for (int j = 0; j < n; ++j) {
              double dot = 0, abs = 0;
              for (int d = 0; d < s.hd; ++d) {
                dot += double(qd[size_t(d)]) * pool.kf[size_t(j) * s.hd + d];
                abs += std::fabs(double(qd[size_t(d)]) * pool.kf[size_t(j) * s.hd + d]);
              }
              sc[size_t(j)] = dot * scale;
              mx = std::max(mx, sc[size_t(j)]);
              dmax = std::max(dmax, (s.hd / 4.0 + 3) * kEps * scale * abs + kEps * std::fabs(sc[size_t(j)]));
              for (int d = 0; d < s.hd; ++d) vmax = std::max(vmax, std::fabs(double(pool.vf[size_t(j) * s.hd + d])));
            }
            double sum = 0;
            for (double& x : sc) sum += (x = std::exp(x - mx));
            // An F16 V cache rounds each probability to F16 (as llama.cpp): ≤ 2^-11 of it, Σp = 1.
            const double p16 = vt == TypeId::F16 ? std::ldexp(1.0, -11) : 0.0;
            const double tol = vmax * (2 * dmax + 1e-6 + 2 * (n + 4) * kEps + p16) + 1e-30;
            for (int d = 0; d < s.hd; ++d) {
              double want = 0;
              for (int j = 0; j < n; ++j) want += sc[size_t(j)] / sum * pool.vf[size_t(j) * s.hd + d];
              const float g = got[(size_t(t) * s.n_heads + h) * s.hd + d];
              ASSERT_NEAR(g, want, tol) << "K " << type_info(kt).name << " V " << type_info(vt).name << " hd " << s.hd
                                        << " token " << t << " head " << h << " dim " << d;
            }
          }
      }
}

// A row's result is the same alone or in any tile, for any pool block size
// and block order: what makes batched and chunked prefill equal to decoding.
TEST_P(AttentionIsa, IndependentOfTilingAndBlocks) {
  kernels::set_isa(GetParam());
  for (TypeId kt : kCacheTypes) {
    const int hd = 64, n_tok = 7, heads = 4, pos0 = 35, keys = pos0 + n_tok;
    const auto q = make_q(n_tok, heads, hd, 99);
    const Pool a(kt, kt, hd, 16, keys, 1), b(kt, kt, hd, 64, keys, 1);  // the same keys (same seed), other blocks
    ASSERT_EQ(a.kf, b.kf);
    const auto whole = run(a, q, n_tok, heads, pos0);
    const auto other_blocks = run(b, q, n_tok, heads, pos0);
    EXPECT_EQ(std::memcmp(whole.data(), other_blocks.data(), whole.size() * 4), 0) << type_info(kt).name;
    for (int t = 0; t < n_tok; ++t) {
      const std::vector<float> qt(q.begin() + ptrdiff_t(t) * heads * hd, q.begin() + ptrdiff_t(t + 1) * heads * hd);
      const auto one = run(a, qt, 1, heads, pos0 + t);
      EXPECT_EQ(std::memcmp(one.data(), &whole[size_t(t) * heads * hd], one.size() * 4), 0)
          << type_info(kt).name << " token " << t << " alone differs from its tile";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, AttentionIsa, ::testing::ValuesIn(test::all_isas()), test::isa_test_name);

// K tiles hold what was stored: F16 rounding, or the Q8_0/Q4_0 block values.
TEST(AttentionLayout, KTilesRoundTrip) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 2.0f);
  for (TypeId t : kCacheTypes) {
    const int hd = 64;
    std::vector<uint8_t> tile(kernels::k_tile_bytes(t, hd), 0);
    std::vector<std::vector<float>> keys(kKeyTile, std::vector<float>(size_t(hd)));
    for (int j = 0; j < kKeyTile; ++j) {
      for (auto& x : keys[size_t(j)]) x = g(rng);
      kernels::store_k(t, hd, keys[size_t(j)].data(), tile.data(), j);
    }
    for (int j = 0; j < kKeyTile; ++j) {
      std::vector<float> got(static_cast<size_t>(hd)), want(static_cast<size_t>(hd));
      kernels::load_k(t, hd, tile.data(), j, got.data());
      // The same values as the type's own row format.
      std::vector<uint8_t> row(row_size(t, hd));
      if (t == TypeId::Q8_0) {
        kernels::convert_activations(TypeId::Q8_0, keys[size_t(j)].data(), row.data(), hd);
      } else {
        type_info(t).from_float(keys[size_t(j)].data(), row.data(), hd);
      }
      type_info(t).to_float(row.data(), want.data(), hd);
      EXPECT_EQ(got, want) << type_info(t).name << " key " << j;
    }
  }
  EXPECT_EQ(kernels::k_tile_bytes(TypeId::Q8_0, 64), size_t(kKeyTile) * 2 * 34);
  EXPECT_EQ(kernels::k_tile_bytes(TypeId::Q4_0, 64), size_t(kKeyTile) * 2 * 18);
  EXPECT_STRNE(kernels::kv_type_problem(TypeId::Q8_0, 8), "");
  EXPECT_STREQ(kernels::kv_type_problem(TypeId::F16, 8), "");
}

TEST(AttentionLayout, ExpApproxAccuracy) {
  for (float x = -86.0f; x <= 0.0f; x += 0.0137f) {
    const double want = std::exp(double(x));
    EXPECT_NEAR(kernels::exp_approx(x), want, want * 3e-7) << x;
  }
  EXPECT_EQ(kernels::exp_approx(-INFINITY), 0.0f);
  EXPECT_EQ(kernels::exp_approx(-100.0f), 0.0f);
  EXPECT_EQ(kernels::exp_approx(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(kernels::exp_approx(NAN)));
}
