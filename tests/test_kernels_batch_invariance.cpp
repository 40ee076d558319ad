// Batch invariance of the matmul kernels: the result for (row, token) must be
// bitwise the same however many tokens share the call, wherever the token lands
// in a tile, and however the rows are split between threads. Continuous
// batching relies on it: a sequence decoded beside seven others, or prefilled
// in one chunk with other sequences' tokens, must produce exactly the logits
// it produces alone (`qinfer run --temp 0`).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <random>
#include <vector>

#include "isa_test.h"
#include "qinfer/kernels/kernel_types.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;
using kernels::Isa;

namespace {

class BatchInvariance : public test::IsaTest {};

struct Problem {
  TypeId type;
  int64_t n, rows, n_tok;
  size_t ws, xs;
  std::vector<uint8_t> W, X;
};

// `blocks` > 0: rows of that many 32-element blocks (rounded up to whole
// super-blocks; float types: plus a tail of 11).
Problem make_problem(TypeId t, int64_t rows, int64_t n_tok, uint32_t seed, int64_t blocks = 0) {
  const TypeInfo& wi = type_info(t);
  Problem p;
  p.type = t;
  // Several blocks (two of the 256-element k-quant super-blocks); 75 floats: a SIMD tail.
  p.n = wi.block_size >= 256 ? 2 * wi.block_size : wi.block_size > 1 ? 5 * wi.block_size : 75;
  if (blocks > 0)
    p.n = wi.block_size > 1 ? (blocks * 32 + wi.block_size - 1) / wi.block_size * wi.block_size : blocks * 32 + 11;
  p.rows = rows;
  p.n_tok = n_tok;
  p.ws = row_size(t, p.n);
  p.xs = row_size(wi.vec_dot_type, p.n);
  p.W.resize(p.ws * size_t(rows));
  p.X.resize(p.xs * size_t(n_tok));
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(size_t(p.n));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& x : v) x = g(rng);
    wi.from_float(v.data(), p.W.data() + size_t(r) * p.ws, p.n);
  }
  for (int64_t k = 0; k < n_tok; ++k) {
    for (auto& x : v) x = g(rng) * (k % 3 == 0 ? 10.0f : 1.0f);
    kernels::convert_activations(wi.vec_dot_type, v.data(), p.X.data() + size_t(k) * p.xs, p.n);
  }
  return p;
}

// Y for tokens [t0, t0 + nt) and rows [r0, r1), written into a full [n_tok][rows] matrix.
void run(const Problem& p, int64_t r0, int64_t r1, int64_t t0, int64_t nt, std::vector<float>& Y) {
  kernels::matmul_rows(p.type, p.n, p.W.data(), p.ws, r0, r1, p.X.data() + size_t(t0) * p.xs, p.xs, nt,
                       Y.data() + size_t(t0 * p.rows), p.rows);
}

void expect_same(const Problem& p, const std::vector<float>& want, const std::vector<float>& got, const char* how) {
  for (int64_t t = 0; t < p.n_tok; ++t)
    for (int64_t r = 0; r < p.rows; ++r) {
      const size_t i = size_t(t * p.rows + r);
      ASSERT_EQ(std::memcmp(&want[i], &got[i], sizeof(float)), 0)
          << type_info(p.type).name << " " << how << ": row " << r << " token " << t << " of " << p.n_tok
          << ": one token at a time gives " << want[i] << ", this gives " << got[i];
    }
}

}  // namespace

// n tokens in one call == n calls of one token, bit for bit, for token counts
// that cover every tile width and tail of every ISA's drivers.
TEST_P(BatchInvariance, ManyTokensEqualOneAtATime) {
  const auto types = kernels::types_with_kernels();
  for (TypeId t : {TypeId::F32, TypeId::Q4_0, TypeId::Q8_0, TypeId::Q4_K, TypeId::NF4, TypeId::FP4, TypeId::INT4,
                   TypeId::INT8})
    ASSERT_NE(std::find(types.begin(), types.end(), t), types.end()) << type_info(t).name << " has no kernel";
  for (TypeId t : types) {
    for (int64_t n_tok : {2, 3, 4, 5, 8, 9, 13, 17, 33}) {
      const Problem p = make_problem(t, 37, n_tok, uint32_t(n_tok) * 7 + uint32_t(t));
      std::vector<float> one(size_t(p.rows * n_tok)), all(one.size());
      for (int64_t k = 0; k < n_tok; ++k) run(p, 0, p.rows, k, 1, one);
      run(p, 0, p.rows, 0, n_tok, all);
      expect_same(p, one, all, "all tokens in one call");
      // The same tokens split into uneven pieces (a token lands at another tile position).
      std::vector<float> pieces(one.size());
      for (int64_t k = 0; k < n_tok;) {
        const int64_t nt = std::min<int64_t>(n_tok - k, 1 + (k * 5) % 6);
        run(p, 0, p.rows, k, nt, pieces);
        k += nt;
      }
      expect_same(p, one, pieces, "uneven pieces");
    }
  }
}

// Batches take other paths than decode (AVX-512 VNNI Q4_0: up to 16 tokens
// share each 16-row group decoded in registers, then an 8-row group and single
// rows; longer batches transpose weights once per 64-row block and 32-block
// chunk of the row, 16 rows per register, then an 8-row group and single rows):
// 91 rows = 64 + 16 + 8 + 3 and rows of 70 blocks (two full chunks and a part)
// reach each of them.
TEST_P(BatchInvariance, LongBatchesEqualOneAtATimeOnEveryRowPath) {
  for (TypeId t : kernels::types_with_kernels()) {
    for (int64_t n_tok : {5, 16, 27}) {
      const Problem p = make_problem(t, 91, n_tok, 5u + uint32_t(n_tok) + uint32_t(t), 70);
      std::vector<float> one(size_t(p.rows * n_tok)), all(one.size());
      for (int64_t k = 0; k < n_tok; ++k) run(p, 0, p.rows, k, 1, one);
      run(p, 0, p.rows, 0, n_tok, all);
      expect_same(p, one, all, "all tokens in one call");
      std::vector<float> split(one.size());
      const int64_t bounds[] = {0, 5, 64, 80, 88, 91};  // ranges that start and end mid-path
      for (size_t i = 0; i + 1 < std::size(bounds); ++i) run(p, bounds[i], bounds[i + 1], 0, n_tok, split);
      expect_same(p, one, split, "rows split at the path boundaries");
    }
  }
}

// A row's result does not depend on the row range it is computed in (thread
// partitions put a row in a full row tile or in a tail).
TEST_P(BatchInvariance, RowSplitsDoNotMatter) {
  for (TypeId t : kernels::types_with_kernels()) {
    for (int64_t n_tok : {1, 4, 9}) {
      const Problem p = make_problem(t, 37, n_tok, 11u + uint32_t(t));
      std::vector<float> whole(size_t(p.rows * n_tok)), split(whole.size());
      run(p, 0, p.rows, 0, n_tok, whole);
      for (int64_t r0 = 0; r0 < p.rows;) {
        const int64_t r1 = std::min<int64_t>(p.rows, r0 + 1 + (r0 * 3) % 10);
        run(p, r0, r1, 0, n_tok, split);
        r0 = r1;
      }
      expect_same(p, whole, split, "rows split unevenly");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, BatchInvariance, ::testing::ValuesIn(test::all_isas()), test::isa_test_name);
