// GPTQ's core against an independent float64 implementation, and its purpose:
// on held-out activations the layer output error ‖W·X − Ŵ·X‖ is below
// round-to-nearest's for every block type and group size tried. Also the code
// grids (codes written into a block read back to the same bytes) and the SPD
// helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/quant/code_grid.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/gptq.h"
#include "qinfer/quantize/spd.h"

using namespace qinfer;

namespace {

const TypeId kGridTypes[] = {TypeId::Q4_0, TypeId::Q4_1, TypeId::Q5_0, TypeId::Q5_1, TypeId::Q8_0,
                             TypeId::Q2_K, TypeId::Q3_K, TypeId::Q4_K, TypeId::Q5_K, TypeId::Q6_K};

std::vector<double> random_spd(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<double> a(size_t(n * 2 * n));
  for (double& v : a) v = nd(rng);
  std::vector<double> h(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < 2 * n; ++k) h[size_t(i * n + j)] += a[size_t(i * 2 * n + k)] * a[size_t(j * 2 * n + k)];
  return h;
}

// Calibration-like activations: correlated channels with uneven scales and a
// few outlier channels, as in real layer inputs. [tokens][cols].
std::vector<float> activations(int64_t tokens, int64_t cols, uint32_t seed) {
  std::mt19937 rng(1234);  // the same channel structure for every seed
  std::normal_distribution<float> nd;
  const int64_t k = 16;
  std::vector<float> mix(size_t(k * cols)), scale(static_cast<size_t>(cols));
  for (float& v : mix) v = nd(rng);
  for (int64_t c = 0; c < cols; ++c) scale[size_t(c)] = std::exp(0.7f * nd(rng)) * (c % 61 == 7 ? 8.0f : 1.0f);
  std::mt19937 rs(seed);
  std::vector<float> x(size_t(tokens * cols)), z(static_cast<size_t>(k));
  for (int64_t t = 0; t < tokens; ++t) {
    for (float& v : z) v = nd(rs);
    for (int64_t c = 0; c < cols; ++c) {
      float s = 0.5f * nd(rs);
      for (int64_t j = 0; j < k; ++j) s += z[size_t(j)] * mix[size_t(j * cols + c)] * 0.3f;
      x[size_t(t * cols + c)] = s * scale[size_t(c)];
    }
  }
  return x;
}

std::vector<double> hessian(const std::vector<float>& x, int64_t tokens, int64_t cols) {
  std::vector<double> h(size_t(cols * cols), 0.0);
  for (int64_t t = 0; t < tokens; ++t) {
    const float* xt = &x[size_t(t * cols)];
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) h[size_t(i * cols + j)] += double(xt[i]) * double(xt[j]);
  }
  return h;
}

// ‖(W − Ŵ)·Xᵀ‖² over the tokens of x.
double output_error(const std::vector<float>& w, const std::vector<float>& wq, int64_t rows, int64_t cols,
                    const std::vector<float>& x, int64_t tokens) {
  double e = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c)
        s += (double(w[size_t(r * cols + c)]) - double(wq[size_t(r * cols + c)])) * double(x[size_t(t * cols + c)]);
      e += s * s;
    }
  return e;
}

std::vector<float> dequantize_rows(TypeId t, const std::vector<uint8_t>& q, int64_t rows, int64_t cols) {
  std::vector<float> y(size_t(rows * cols));
  const size_t rb = row_size(t, cols);
  for (int64_t r = 0; r < rows; ++r) type_info(t).to_float(&q[size_t(r) * rb], &y[size_t(r * cols)], cols);
  return y;
}

std::vector<uint8_t> rtn(TypeId t, const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> q(size_t(rows) * row_size(t, cols));
  type_info(t).quantize(w.data(), q.data(), rows, cols, nullptr);
  return q;
}

// Textbook GPTQ in float64, unblocked: explicit inverse by Gauss-Jordan,
// Cholesky of the inverse, every update applied at once to all later columns.
std::vector<uint8_t> reference_gptq(TypeId type, const std::vector<float>& w, int64_t rows, int64_t cols,
                                    std::vector<double> h, double damp, int64_t group) {
  const int64_t n = cols;
  double mean = 0;
  std::vector<float> importance(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    importance[size_t(i)] = float(h[size_t(i * n + i)]);
    mean += h[size_t(i * n + i)];
  }
  mean /= double(n);
  for (int64_t i = 0; i < n; ++i) h[size_t(i * n + i)] += damp * mean;
  // Gauss-Jordan inverse.
  std::vector<double> a = h, inv(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) inv[size_t(i * n + i)] = 1;
  for (int64_t c = 0; c < n; ++c) {
    const double p = a[size_t(c * n + c)];
    for (int64_t j = 0; j < n; ++j) a[size_t(c * n + j)] /= p, inv[size_t(c * n + j)] /= p;
    for (int64_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[size_t(r * n + c)];
      for (int64_t j = 0; j < n; ++j) a[size_t(r * n + j)] -= f * a[size_t(c * n + j)], inv[size_t(r * n + j)] -= f * inv[size_t(c * n + j)];
    }
  }
  // Upper U with inv = Uᵀ·U: U = Lᵀ for the lower Cholesky factor L of inv.
  std::vector<double> l = inv;
  EXPECT_TRUE(cholesky_lower(l, n));
  std::vector<double> wd(w.begin(), w.end());
  BlockTypeRounder rounder(type, rows, cols, group);
  std::vector<ElementGrid> grids(size_t(rows * n));
  std::vector<float> vals(static_cast<size_t>(group));
  for (int64_t i = 0; i < n; ++i) {
    if (i % group == 0)
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t k = 0; k < group; ++k) vals[size_t(k)] = float(wd[size_t(r * n + i + k)]);
        rounder.fix_group(r, i / group, vals.data(), importance.data() + i, &grids[size_t(r * n + i)]);
      }
    const double d = l[size_t(i * n + i)];
    for (int64_t r = 0; r < rows; ++r) {
      const ElementGrid& g = grids[size_t(r * n + i)];
      const int code = nearest_code(g, rounder.max_code(), float(wd[size_t(r * n + i)]));
      rounder.set_code(r, i, code);
      const double e = (wd[size_t(r * n + i)] - double(code_value(g, code))) / d;
      for (int64_t p = i + 1; p < n; ++p) wd[size_t(r * n + p)] -= e * l[size_t(p * n + i)];
    }
  }
  return rounder.finish();
}

}  // namespace

TEST(Spd, InverseCholeskyUpperFactorsTheInverse) {
  const int64_t n = 37;
  const std::vector<double> h = random_spd(n, 7);
  std::vector<double> u;
  ASSERT_TRUE(inverse_cholesky_upper(h, n, u));
  // (Uᵀ·U)·H = I, and U is upper triangular with a positive diagonal.
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GT(u[size_t(i * n + i)], 0);
    for (int64_t j = 0; j < i; ++j) EXPECT_EQ(u[size_t(i * n + j)], 0.0);
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < n; ++k) {
        double inv_ik = 0;
        for (int64_t m = 0; m <= std::min(i, k); ++m) inv_ik += u[size_t(m * n + i)] * u[size_t(m * n + k)];
        s += inv_ik * h[size_t(k * n + j)];
      }
      worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
    }
  }
  EXPECT_LT(worst, 1e-9);
}

TEST(Spd, RejectsIndefiniteMatrices) {
  std::vector<double> h = {1, 2, 2, 1};  // eigenvalues 3 and −1
  std::vector<double> u;
  EXPECT_FALSE(inverse_cholesky_upper(h, 2, u));
  std::vector<double> nan_h = {1, 0, 0, std::nan("")};
  EXPECT_FALSE(inverse_cholesky_upper(nan_h, 2, u));
}

TEST(CodeGrid, CodesWrittenBackReproduceTheBlock) {
  for (TypeId t : kGridTypes) {
    const TypeInfo& info = type_info(t);
    const CodeGrid* grid = find_code_grid(t);
    ASSERT_NE(grid, nullptr) << info.name;
    std::mt19937 rng(uint32_t(t) + 5);
    std::normal_distribution<float> nd;
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> x(size_t(info.block_size));
      for (float& v : x) v = nd(rng) * (trial % 3 == 0 ? 1e-3f : 1.0f) + (trial % 4 == 1 ? 0.5f : 0.0f);
      std::vector<uint8_t> blk(info.type_size), copy;
      info.quantize(x.data(), blk.data(), 1, info.block_size, nullptr);
      std::vector<float> y(x.size());
      info.to_float(blk.data(), y.data(), info.block_size);
      std::vector<ElementGrid> g(x.size());
      read_element_grids(*grid, blk.data(), g.data());
      // Every dequantized value lies on its element's grid; the nearest code
      // written back gives the same block, byte for byte.
      std::vector<uint8_t> codes(x.size());
      bool degenerate = false;
      for (size_t i = 0; i < x.size(); ++i) {
        degenerate |= g[i].step == 0.0f;
        const int c = nearest_code(g[i], grid->max_code, y[i]);
        codes[i] = uint8_t(c);
        EXPECT_NEAR(code_value(g[i], c), y[i], 1e-6f * (std::fabs(y[i]) + std::fabs(g[i].step)))
            << info.name << " element " << i;
      }
      if (degenerate) continue;
      copy = blk;
      grid->write_codes(copy.data(), codes.data());
      EXPECT_EQ(copy, blk) << info.name << " trial " << trial;
    }
  }
  EXPECT_EQ(find_code_grid(TypeId::F16), nullptr);
  EXPECT_EQ(find_code_grid(TypeId::IQ4_NL), nullptr);
}

TEST(Gptq, MatchesTheFloat64Reference) {
  const int64_t rows = 24, cols = 256, tokens = 1024;
  const std::vector<float> x = activations(tokens, cols, 1);
  const std::vector<double> h = hessian(x, tokens, cols);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> w(size_t(rows * cols));
  for (float& v : w) v = nd(rng) * 0.05f;
  const std::vector<float> held = activations(512, cols, 2);
  ThreadPool pool(2);
  for (TypeId t : {TypeId::Q4_0, TypeId::Q4_1, TypeId::Q5_1, TypeId::Q8_0, TypeId::Q3_K, TypeId::Q4_K, TypeId::Q6_K}) {
    const int64_t group = type_info(t).block_size;
    BlockTypeRounder rounder(t, rows, cols, group);
    GptqOptions opt;
    opt.batch = 64;  // several lazy batches for 32-blocks
    gptq_quantize(w.data(), rows, cols, h, rounder, opt, pool);
    const std::vector<uint8_t> ours = rounder.finish();
    const std::vector<uint8_t> ref = reference_gptq(t, w, rows, cols, h, opt.damp, group);
    const std::vector<float> a = dequantize_rows(t, ours, rows, cols), b = dequantize_rows(t, ref, rows, cols);
    // float32 updates against float64 ones: codes may differ where a weight sits
    // at a rounding boundary, and the difference then propagates a little.
    int64_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
    EXPECT_LE(differ, int64_t(a.size()) / 50) << type_info(t).name;
    const double ea = output_error(w, a, rows, cols, held, 512), eb = output_error(w, b, rows, cols, held, 512);
    EXPECT_NEAR(ea, eb, 0.03 * eb) << type_info(t).name;
  }
}

TEST(Gptq, BeatsRoundToNearestOnHeldOutActivations) {
  const int64_t rows = 32, cols = 512, tokens = 1024;
  const std::vector<float> x = activations(tokens, cols, 11);
  const std::vector<double> h = hessian(x, tokens, cols);
  const std::vector<float> held = activations(512, cols, 12);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  std::vector<float> w(size_t(rows * cols));
  for (float& v : w) v = nd(rng) * 0.05f;
  ThreadPool pool(2);
  for (TypeId t : kGridTypes) {
    const TypeInfo& info = type_info(t);
    const double e_rtn = output_error(w, dequantize_rows(t, rtn(t, w, rows, cols), rows, cols), rows, cols, held, 512);
    for (int64_t group : {info.block_size, 2 * info.block_size}) {
      for (bool act_order : {false, true}) {
        BlockTypeRounder rounder(t, rows, cols, group);
        GptqOptions opt;
        opt.act_order = act_order;
        gptq_quantize(w.data(), rows, cols, h, rounder, opt, pool);
        const double e = output_error(w, dequantize_rows(t, rounder.finish(), rows, cols), rows, cols, held, 512);
        EXPECT_LT(e, e_rtn) << info.name << " group " << group << (act_order ? " act-order" : "");
        if (group == info.block_size && !act_order)
          std::printf("  %-5s held-out output error GPTQ/RTN = %.3f\n", info.name, e / e_rtn);
      }
    }
  }
}

TEST(Gptq, DeadColumnsAndDamping) {
  const int64_t rows = 8, cols = 64, tokens = 256;
  std::vector<float> x = activations(tokens, cols, 3);
  for (int64_t t = 0; t < tokens; ++t) x[size_t(t * cols + 5)] = 0;  // input 5 is never active
  std::vector<double> h = hessian(x, tokens, cols);
  std::vector<float> w(size_t(rows * cols), 0.25f);
  ThreadPool pool(1);
  BlockTypeRounder rounder(TypeId::Q8_0, rows, cols, 32);
  const GptqStats st = gptq_quantize(w.data(), rows, cols, h, rounder, {}, pool);
  EXPECT_EQ(st.dead_columns, 1);
  EXPECT_EQ(st.damp_raises, 0);
  const std::vector<float> q = dequantize_rows(TypeId::Q8_0, rounder.finish(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(q[size_t(r * cols + 5)], 0.0f);

  // A rank-deficient Hessian with zero damping is not positive definite: the
  // damping is raised (and reported) until it is.
  std::vector<float> x2(size_t(4 * cols));
  for (size_t i = 0; i < x2.size(); ++i) x2[i] = float(i % 7) - 3.0f;
  BlockTypeRounder r2(TypeId::Q4_0, rows, cols, 32);
  GptqOptions zero;
  zero.damp = 0;
  EXPECT_THROW(gptq_quantize(w.data(), rows, cols, hessian(x2, 4, cols), r2, zero, pool), InputError);
  GptqOptions tiny;
  tiny.damp = 1e-12;
  const GptqStats st2 = gptq_quantize(w.data(), rows, cols, hessian(x2, 4, cols), r2, tiny, pool);
  EXPECT_GE(st2.damp, 1e-12);

  // NaN activations: a clear error naming the tensor.
  h[3] = std::nan("");
  GptqOptions named;
  named.name = "blk.0.attn_q.weight";
  try {
    gptq_quantize(w.data(), rows, cols, h, rounder, named, pool);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not finite"), std::string::npos) << e.what();
  }
}

TEST(Gptq, RejectsGroupsTheTypeCannotTake) {
  EXPECT_THROW(BlockTypeRounder(TypeId::Q4_K, 4, 512, 128), InputError);   // below the 256 super-block
  EXPECT_THROW(BlockTypeRounder(TypeId::Q4_0, 4, 96, 64), InputError);     // 96 columns, groups of 64
  EXPECT_THROW(BlockTypeRounder(TypeId::Q4_0, 4, 64, 48), InputError);     // not a multiple of 32
  EXPECT_THROW(BlockTypeRounder(TypeId::IQ4_NL, 4, 64, 32), InputError);   // codebook, not affine
  EXPECT_THROW(BlockTypeRounder(TypeId::F16, 4, 64, 32), InputError);
  EXPECT_NO_THROW(BlockTypeRounder(TypeId::Q4_0, 4, 128, 64));
}
