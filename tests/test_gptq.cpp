// GPTQ's core against an independent float64 implementation, and its purpose:
// on held-out activations the layer output error ‖W·X − Ŵ·X‖ is below
// round-to-nearest's for every block type and group size tried. Also the code
// grids (codes written into a block read back to the same bytes, parameters
// set and read back as a linear basis), the least-squares refit of the block
// parameters against a float64 solve, the clipping candidates, and the SPD
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
#include "qinfer/core/fp16.h"
#include "qinfer/quantize/float_target.h"
#include "qinfer/quantize/gptq.h"
#include "qinfer/quantize/refit.h"
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
// A weight matrix of n values drawn from N(0, 0.05²).
std::vector<float> gaussian_weights(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> w(static_cast<size_t>(n));
  for (float& v : w) v = nd(rng) * 0.05f;
  return w;
}

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
  const std::vector<float> w = gaussian_weights(rows * cols, 3);
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
  const std::vector<float> w = gaussian_weights(rows * cols, 5);
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

// Parameters written through the type's setter and read back as a basis:
// the block's values are Σ_p params[p]·basis[p] (fp16-rounded params).
TEST(CodeGrid, ParametersAreALinearBasisOfTheValues) {
  for (TypeId t : kGridTypes) {
    const TypeInfo& info = type_info(t);
    const CodeGrid& grid = *find_code_grid(t);
    ASSERT_GE(grid.n_params, 1) << info.name;
    ASSERT_LE(grid.n_params, kMaxGridParams) << info.name;
    std::mt19937 rng(uint32_t(t) + 17);
    std::normal_distribution<float> nd;
    for (int trial = 0; trial < 10; ++trial) {
      std::vector<float> x(size_t(info.block_size));
      for (float& v : x) v = nd(rng) + (trial % 2 ? 0.3f : 0.0f);
      std::vector<uint8_t> blk(info.type_size);
      info.quantize(x.data(), blk.data(), 1, info.block_size, nullptr);
      const float params[2] = {0.37f * (trial + 1), -0.11f * (trial + 1)};
      grid.set_params(blk.data(), params);
      std::vector<float> basis(size_t(grid.n_params * info.block_size)), y(x.size());
      read_param_basis(grid, blk.data(), basis.data());
      info.to_float(blk.data(), y.data(), info.block_size);
      for (int64_t i = 0; i < info.block_size; ++i) {
        double v = 0;
        for (int p = 0; p < grid.n_params; ++p) v += double(fp16_to_f32(f32_to_fp16(params[p]))) * basis[size_t(p * info.block_size + i)];
        EXPECT_NEAR(y[size_t(i)], v, 1e-5 * (std::fabs(v) + 1)) << info.name << " element " << i;
      }
    }
  }
}

// The refit against a float64 least-squares solve written from the design
// matrix (tokens × parameters, no normal equations of the code under test):
// the same parameters up to fp16 rounding, and a lower error on the
// calibration activations; on held-out activations it stays below RTN.
TEST(Refit, MatchesTheFloat64LeastSquaresAndLowersTheError) {
  const int64_t rows = 8, cols = 128, tokens = 600;
  const std::vector<float> x = activations(tokens, cols, 21);
  const std::vector<double> h = hessian(x, tokens, cols);
  const std::vector<float> held = activations(512, cols, 22);
  const std::vector<float> w = gaussian_weights(rows * cols, 9);
  ThreadPool pool(2);
  for (TypeId t : {TypeId::Q4_0, TypeId::Q4_1, TypeId::Q5_0, TypeId::Q8_0}) {
    const TypeInfo& info = type_info(t);
    const CodeGrid& grid = *find_code_grid(t);
    std::vector<uint8_t> q = rtn(t, w, rows, cols);
    const std::vector<uint8_t> q0 = q;
    const RefitStats st = refit_block_params(t, q.data(), rows, cols, w.data(), h, 0.0, false, pool);
    EXPECT_LT(st.loss_after, st.loss_before) << info.name;
    EXPECT_NEAR(st.loss_after, quantized_output_loss(t, q.data(), rows, cols, w.data(), h, pool), 1e-6 * st.loss_after);
    // Reference: minimise Σ_tokens (Σ_j (w_j − Σ_p θ_p a_pj) x_tj)² by normal equations of the design matrix Z.
    const int64_t bs = info.block_size, nb = cols / bs, np = grid.n_params, P = nb * np;
    const size_t rb = row_size(t, cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> basis(size_t(P * bs));
      for (int64_t b = 0; b < nb; ++b) read_param_basis(grid, &q0[size_t(r) * rb + size_t(b) * info.type_size], &basis[size_t(b * np * bs)]);
      std::vector<double> z(size_t(tokens * P), 0.0), y(static_cast<size_t>(tokens), 0.0);
      for (int64_t k = 0; k < tokens; ++k) {
        for (int64_t j = 0; j < cols; ++j) y[size_t(k)] += double(w[size_t(r * cols + j)]) * x[size_t(k * cols + j)];
        for (int64_t b = 0; b < nb; ++b)
          for (int64_t p = 0; p < np; ++p)
            for (int64_t j = 0; j < bs; ++j)
              z[size_t(k * P + b * np + p)] += double(basis[size_t((b * np + p) * bs + j)]) * x[size_t(k * cols + b * bs + j)];
      }
      std::vector<double> a(size_t(P * P), 0.0), rhs(static_cast<size_t>(P), 0.0);
      for (int64_t k = 0; k < tokens; ++k)
        for (int64_t i = 0; i < P; ++i) {
          rhs[size_t(i)] += z[size_t(k * P + i)] * y[size_t(k)];
          for (int64_t j = 0; j < P; ++j) a[size_t(i * P + j)] += z[size_t(k * P + i)] * z[size_t(k * P + j)];
        }
      // Gaussian elimination with partial pivoting.
      for (int64_t c = 0; c < P; ++c) {
        int64_t piv = c;
        for (int64_t i = c + 1; i < P; ++i)
          if (std::fabs(a[size_t(i * P + c)]) > std::fabs(a[size_t(piv * P + c)])) piv = i;
        for (int64_t j = 0; j < P; ++j) std::swap(a[size_t(c * P + j)], a[size_t(piv * P + j)]);
        std::swap(rhs[size_t(c)], rhs[size_t(piv)]);
        for (int64_t i = c + 1; i < P; ++i) {
          const double f = a[size_t(i * P + c)] / a[size_t(c * P + c)];
          for (int64_t j = c; j < P; ++j) a[size_t(i * P + j)] -= f * a[size_t(c * P + j)];
          rhs[size_t(i)] -= f * rhs[size_t(c)];
        }
      }
      std::vector<double> theta(static_cast<size_t>(P));
      for (int64_t i = P - 1; i >= 0; --i) {
        double v = rhs[size_t(i)];
        for (int64_t j = i + 1; j < P; ++j) v -= a[size_t(i * P + j)] * theta[size_t(j)];
        theta[size_t(i)] = v / a[size_t(i * P + i)];
      }
      // The refitted blocks' parameters: read back from their basis at unit codes is not
      // possible, so compare values: Σ θ_p·basis_p with the reference θ against the block.
      std::vector<float> got(static_cast<size_t>(cols));
      info.to_float(&q[size_t(r) * rb], got.data(), cols);
      for (int64_t b = 0; b < nb; ++b)
        for (int64_t j = 0; j < bs; ++j) {
          // Each parameter is stored as fp16 (relative error 2⁻¹¹ each).
          double v = 0, tol = 1e-7;
          for (int64_t p = 0; p < np; ++p) {
            const double term = theta[size_t(b * np + p)] * basis[size_t((b * np + p) * bs + j)];
            v += term;
            tol += 1e-3 * std::fabs(term);
          }
          EXPECT_NEAR(got[size_t(b * bs + j)], v, tol) << info.name << " row " << r << " col " << b * bs + j;
        }
    }
    const double e_rtn = output_error(w, dequantize_rows(t, q0, rows, cols), rows, cols, held, 512);
    const double e_fit = output_error(w, dequantize_rows(t, q, rows, cols), rows, cols, held, 512);
    EXPECT_LT(e_fit, e_rtn) << info.name;
  }
}

// A diagonal H (the embedding's identity, or any per-column weights) takes
// the O(cols) path; it gives the bytes of the general path, which a
// negligible off-diagonal entry forces, for every type with parameters.
TEST(Refit, DiagonalHessianGivesTheGeneralPathsBytes) {
  const int64_t rows = 6, cols = 128;
  const std::vector<float> w = gaussian_weights(rows * cols, 17);
  std::vector<double> diag(size_t(cols * cols), 0.0);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.5, 2.0);
  for (int64_t i = 0; i < cols; ++i) diag[size_t(i * cols + i)] = u(rng);
  std::vector<double> general = diag;
  general[1] = general[size_t(cols)] = 1e-300;  // symmetric, far below any product that matters
  ThreadPool pool(2);
  for (TypeId t : {TypeId::Q4_0, TypeId::Q4_1, TypeId::Q5_0, TypeId::Q5_1, TypeId::Q8_0}) {
    std::vector<uint8_t> a = rtn(t, w, rows, cols), b = a;
    const std::vector<uint8_t> q0 = a;
    for (bool energy : {false, true}) {
      a = q0;
      b = q0;
      const RefitStats sa = refit_block_params(t, a.data(), rows, cols, w.data(), diag, 0.01, energy, pool);
      const RefitStats sb = refit_block_params(t, b.data(), rows, cols, w.data(), general, 0.01, energy, pool);
      EXPECT_EQ(a, b) << type_info(t).name << (energy ? " keeping the energy" : "");
      EXPECT_EQ(sa.loss_after, sb.loss_after) << type_info(t).name;
      EXPECT_NE(a, q0) << type_info(t).name << ": the refit changed nothing";
    }
  }
}

// GPTQ, then the refit, then with clipping candidates: each step lowers GPTQ's
// objective on the calibration activations and stays below RTN on held-out ones.
TEST(Refit, GptqWithCandidatesAndRefitBeatsPlainGptq) {
  const int64_t rows = 32, cols = 256, tokens = 1024;
  const std::vector<float> x = activations(tokens, cols, 31);
  const std::vector<double> h = hessian(x, tokens, cols);
  const std::vector<float> held = activations(512, cols, 32);
  const std::vector<float> w = gaussian_weights(rows * cols, 13);
  ThreadPool pool(2);
  for (TypeId t : kGridTypes) {
    const TypeInfo& info = type_info(t);
    const double e_rtn = output_error(w, dequantize_rows(t, rtn(t, w, rows, cols), rows, cols), rows, cols, held, 512);
    GptqOptions opt;
    opt.act_order = true;
    BlockTypeRounder plain(t, rows, cols, info.block_size);
    gptq_quantize(w.data(), rows, cols, h, plain, opt, pool);
    std::vector<uint8_t> q = plain.finish();
    const double l_plain = quantized_output_loss(t, q.data(), rows, cols, w.data(), h, pool);
    const RefitStats rs = refit_block_params(t, q.data(), rows, cols, w.data(), h, opt.damp, false, pool);
    const double l_refit = quantized_output_loss(t, q.data(), rows, cols, w.data(), h, pool);
    EXPECT_LE(rs.loss_after, rs.loss_before) << info.name;
    // Q6_K's d of weights this small is an fp16 subnormal: too coarse for a refit to move.
    if (t == TypeId::Q6_K)
      EXPECT_LE(l_refit, l_plain) << info.name;
    else
      EXPECT_LT(l_refit, l_plain) << info.name;
    opt.clip_candidates = 16;
    BlockTypeRounder cand(t, rows, cols, info.block_size);
    gptq_quantize(w.data(), rows, cols, h, cand, opt, pool);
    std::vector<uint8_t> qc = cand.finish();
    refit_block_params(t, qc.data(), rows, cols, w.data(), h, opt.damp, false, pool);
    const double l_cand = quantized_output_loss(t, qc.data(), rows, cols, w.data(), h, pool);
    const double e_cand = output_error(w, dequantize_rows(t, qc, rows, cols), rows, cols, held, 512);
    EXPECT_LT(l_cand, l_plain) << info.name;
    EXPECT_LT(e_cand, e_rtn) << info.name;
    std::printf("  %-5s calibration loss: GPTQ 1, +refit %.3f, +candidates+refit %.3f; held-out vs RTN %.3f\n", info.name,
                l_refit / l_plain, l_cand / l_plain, e_cand / e_rtn);
  }
}

// keep_energy: each row's output energy on the calibration activations,
// ŵᵀ·H·ŵ, equals the float row's (up to the fp16 parameters), where the
// plain least-squares fit falls short of it; the error stays below RTN's.
TEST(Refit, KeepEnergyMatchesTheOutputEnergy) {
  const int64_t rows = 16, cols = 256, tokens = 600;
  const std::vector<float> x = activations(tokens, cols, 41);
  const std::vector<double> h = hessian(x, tokens, cols);
  const std::vector<float> held = activations(512, cols, 42);
  const std::vector<float> w = gaussian_weights(rows * cols, 19);
  ThreadPool pool(2);
  // Σ_tokens (row · x)² from the activations themselves.
  const auto energy = [&](const std::vector<float>& v, int64_t r) {
    double e = 0;
    for (int64_t k = 0; k < tokens; ++k) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) s += double(v[size_t(r * cols + j)]) * x[size_t(k * cols + j)];
      e += s * s;
    }
    return e;
  };
  for (TypeId t : {TypeId::Q4_0, TypeId::Q4_1, TypeId::Q3_K}) {
    const TypeInfo& info = type_info(t);
    const std::vector<uint8_t> q0 = rtn(t, w, rows, cols);
    std::vector<uint8_t> ls = q0, kept = q0;
    refit_block_params(t, ls.data(), rows, cols, w.data(), h, 0.0, false, pool);
    refit_block_params(t, kept.data(), rows, cols, w.data(), h, 0.0, true, pool);
    const std::vector<float> a = dequantize_rows(t, ls, rows, cols), b = dequantize_rows(t, kept, rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      const double want = energy(w, r);
      EXPECT_LT(energy(a, r), want) << info.name << " row " << r;  // the projection shrinks
      EXPECT_NEAR(energy(b, r), want, 2e-3 * want) << info.name << " row " << r;
    }
    const double e_rtn = output_error(w, dequantize_rows(t, q0, rows, cols), rows, cols, held, 512);
    EXPECT_LT(output_error(w, b, rows, cols, held, 512), e_rtn) << info.name;
  }
}

namespace {

// Inputs as a partly quantized model gives them: the float model's, distorted
// by a fixed linear error (what the earlier layers' rounding does, roughly)
// plus a little noise of its own.
std::vector<float> distorted(const std::vector<float>& x, int64_t tokens, int64_t cols, uint32_t seed) {
  std::mt19937 fixed(77), rs(seed);
  std::normal_distribution<float> nd;
  std::vector<float> m(size_t(cols * cols));
  for (float& v : m) v = nd(fixed) * 0.15f / std::sqrt(float(cols));
  std::vector<float> y(x);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j) {
      double s = 0;
      for (int64_t i = 0; i < cols; ++i) s += double(x[size_t(t * cols + i)]) * m[size_t(i * cols + j)];
      y[size_t(t * cols + j)] += float(s) + 0.02f * nd(rs);
    }
  return y;
}

// ‖W·X_float − V·X‖² over the tokens.
double float_target_error(const std::vector<float>& w, const std::vector<float>& v, int64_t rows, int64_t cols,
                          const std::vector<float>& xf, const std::vector<float>& xq, int64_t tokens) {
  double e = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < tokens; ++t) {
      double a = 0;
      for (int64_t j = 0; j < cols; ++j)
        a += double(w[size_t(r * cols + j)]) * xf[size_t(t * cols + j)] - double(v[size_t(r * cols + j)]) * xq[size_t(t * cols + j)];
      e += a * a;
    }
  return e;
}

}  // namespace

// The float target's W' is the least-squares fit of the float output on the
// distorted inputs (undamped: its residual is orthogonal to them), leaves W as
// it is when the inputs agree, keeps the float output's energy when asked, and
// GPTQ on W' beats GPTQ on W on held-out token pairs at the float target.
TEST(FloatTarget, FitsTheFloatOutputAndGptqOnItBeatsPlainGptq) {
  const int64_t rows = 16, cols = 64, tokens = 800;
  const std::vector<float> xf = activations(tokens, cols, 51), xq = distorted(xf, tokens, cols, 52);
  const std::vector<float> held_f = activations(600, cols, 53), held_q = distorted(held_f, 600, cols, 54);
  const std::vector<double> h = hessian(xq, tokens, cols), hf = hessian(xf, tokens, cols);
  std::vector<double> cross(size_t(cols * cols), 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        cross[size_t(i * cols + j)] +=
            (double(xf[size_t(t * cols + i)]) - xq[size_t(t * cols + i)]) * double(xq[size_t(t * cols + j)]);
  const std::vector<float> w = gaussian_weights(rows * cols, 23);
  ThreadPool pool(2);

  std::vector<float> same = w;
  ASSERT_TRUE(fit_to_float_output(same.data(), rows, cols, h, std::vector<double>(cross.size(), 0.0), {}, 0.01, pool));
  EXPECT_EQ(same, w);

  std::vector<float> fit = w;
  ASSERT_TRUE(fit_to_float_output(fit.data(), rows, cols, h, cross, {}, 0.0, pool));
  // Normal equations: Σ_t (W·x_float − W'·x)·xᵀ = 0.
  double worst = 0, scale = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      double g = 0, s = 0;
      for (int64_t t = 0; t < tokens; ++t) {
        double a = 0, b = 0;
        for (int64_t i = 0; i < cols; ++i) {
          a += double(w[size_t(r * cols + i)]) * xf[size_t(t * cols + i)];
          b += double(fit[size_t(r * cols + i)]) * xq[size_t(t * cols + i)];
        }
        g += (a - b) * xq[size_t(t * cols + j)];
        s += std::fabs(a * xq[size_t(t * cols + j)]);
      }
      worst = std::max(worst, std::fabs(g));
      scale = std::max(scale, s);
    }
  EXPECT_LT(worst, 1e-4 * scale);
  EXPECT_LT(float_target_error(w, fit, rows, cols, xf, xq, tokens), 0.5 * float_target_error(w, w, rows, cols, xf, xq, tokens));

  std::vector<float> kept = w;
  ASSERT_TRUE(fit_to_float_output(kept.data(), rows, cols, h, cross, hf, 0.01, pool));
  for (int64_t r = 0; r < rows; ++r) {
    double e_float = 0, e_kept = 0;
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        e_float += double(w[size_t(r * cols + i)]) * hf[size_t(i * cols + j)] * w[size_t(r * cols + j)];
        e_kept += double(kept[size_t(r * cols + i)]) * h[size_t(i * cols + j)] * kept[size_t(r * cols + j)];
      }
    EXPECT_NEAR(e_kept, e_float, 1e-4 * e_float) << "row " << r;
  }

  for (TypeId t : {TypeId::Q4_0, TypeId::Q4_1}) {
    double e[2];
    for (int k = 0; k < 2; ++k) {
      const std::vector<float>& target = k ? kept : w;
      BlockTypeRounder rounder(t, rows, cols, type_info(t).block_size);
      GptqOptions opt;
      opt.act_order = true;
      gptq_quantize(target.data(), rows, cols, h, rounder, opt, pool);
      e[k] = float_target_error(w, dequantize_rows(t, rounder.finish(), rows, cols), rows, cols, held_f, held_q, 600);
    }
    std::printf("  %-5s held-out float-target error, GPTQ on W' / on W = %.3f\n", type_info(t).name, e[1] / e[0]);
    EXPECT_LT(e[1], 0.9 * e[0]) << type_info(t).name;
  }
}
