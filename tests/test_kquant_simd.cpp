// The 8-lane k-quant scale searches (quant/kquant_search_avx2.cpp) against
// 8 scalar calls, bit for bit (llama-quantize's bytes depend on every
// rounding), on random and adversarial sub-blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "qinfer/quant/kquant_search.h"

using namespace qinfer::quant_detail;

namespace {

// 8 sub-blocks of n values each, of kinds the searches branch on.
std::vector<float> sub_blocks(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(size_t(8 * n));
  for (int j = 0; j < 8; ++j) {
    const int kind = int((seed + uint32_t(j)) % 9);
    for (int i = 0; i < n; ++i) {
      float v = g(rng);
      switch (kind) {
        case 0: v = 0.0f; break;                       // all zero
        case 1: v = 0.75f; break;                      // constant positive
        case 2: v = -std::fabs(v) - 0.5f; break;       // all negative
        case 3: v *= 1e-20f; break;                    // below the group epsilon
        case 4: v *= 3e4f; break;                      // large
        case 5: v = i == 7 ? 100.0f : v * 0.01f; break;  // one outlier
        case 6: v = std::fabs(v); break;               // all positive
        case 7: v = float(int(v * 4)) / 4; break;      // many ties
        default: break;
      }
      x[size_t(j * n + i)] = v;
    }
  }
  return x;
}

}  // namespace

TEST(KQuantSimd, Qkx2SearchMatchesScalarBitForBit) {
  if (!kquant_x8_available()) GTEST_SKIP() << "no AVX2";
  for (uint32_t seed = 0; seed < 300; ++seed) {
    const std::vector<float> x = sub_blocks(32, seed);
    std::vector<float> w(x.size());
    std::mt19937 rng(seed);
    for (size_t i = 0; i < w.size(); ++i) w[i] = seed % 3 == 0 ? 1.0f : std::fabs(x[i]) + float(rng() % 7) * 0.125f;
    for (int nmax : {15, 31})
      for (int nstep : {0, 20}) {
        uint8_t L8[256], L1[256], aux[32];
        float s8[8], m8[8], s1[8], m1[8];
        make_qkx2_quants_x8(x.data(), w.data(), nmax, -1.0f, 0.1f, nstep, L8, s8, m8);
        for (int j = 0; j < 8; ++j)
          s1[j] = make_qkx2_quants(32, nmax, x.data() + 32 * j, w.data() + 32 * j, L1 + 32 * j, &m1[j], aux, -1.0f,
                                   0.1f, nstep, false);
        ASSERT_EQ(std::memcmp(s8, s1, sizeof s1), 0) << "scales, seed " << seed << " nmax " << nmax;
        ASSERT_EQ(std::memcmp(m8, m1, sizeof m1), 0) << "mins, seed " << seed << " nmax " << nmax;
        ASSERT_EQ(std::memcmp(L8, L1, sizeof L1), 0) << "codes, seed " << seed << " nmax " << nmax;
      }
  }
}

TEST(KQuantSimd, QxSearchMatchesScalarBitForBit) {
  if (!kquant_x8_available()) GTEST_SKIP() << "no AVX2";
  for (uint32_t seed = 0; seed < 300; ++seed) {
    const std::vector<float> x = sub_blocks(16, seed);
    int8_t L8[128], L1[128];
    float s8[8], s1[8];
    make_qx_quants_x8_rmse1(x.data(), 32, L8, s8);
    for (int j = 0; j < 8; ++j) s1[j] = make_qx_quants(16, 32, x.data() + 16 * j, L1 + 16 * j, 1, nullptr);
    ASSERT_EQ(std::memcmp(s8, s1, sizeof s1), 0) << "scales, seed " << seed;
    ASSERT_EQ(std::memcmp(L8, L1, sizeof L1), 0) << "codes, seed " << seed;
  }
}
