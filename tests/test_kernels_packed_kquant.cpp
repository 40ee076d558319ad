// The packed k-quant layouts (kernels/packed_kx16.h: q4_Kx16, q5_Kx16,
// q6_Kx16): the scalar reference agrees with the scalar dot product, and on the
// path that has the packed kernel it, the SIMD kernel and matmul_rows on the
// file's rows give the same bits for every row range, token count and shape
// tail; a Q4_K_M model (Q4_K and Q6_K matrices) repacked at load computes the
// logits of the one that is not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "cli_runner.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/kernels/packed_kx16.h"
#include "qinfer/model/model.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/q6_k.h"
#include "qinfer/quant/q8_k.h"
#include "qinfer/runtime/context.h"
#include "logits_compare.h"
#include "test_util.h"

using namespace qinfer;
namespace kx16 = kernels::kx16;

namespace {

const TypeId kTypes[] = {TypeId::Q4_K, TypeId::Q5_K, TypeId::Q6_K};

struct Operands {
  TypeId type{};
  int64_t n = 0, rows = 0, n_tok = 0;
  size_t ws = 0, xs = 0;
  std::vector<uint8_t> W, X, packed;
  const uint8_t* P = nullptr;  // 64-byte aligned inside `packed`
};

// Random rows (every 7th an outlier row, every 11th all zero) and Q8_K
// activations (every 3rd token ten times larger); the rows then packed.
Operands make(TypeId type, int64_t n, int64_t rows, int64_t n_tok, uint32_t seed) {
  Operands o;
  o.type = type;
  o.n = n;
  o.rows = rows;
  o.n_tok = n_tok;
  o.ws = row_size(type, n);
  o.xs = row_size(TypeId::Q8_K, n);
  o.W.resize(o.ws * size_t(rows));
  o.X.resize(o.xs * size_t(n_tok));
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& f : v) f = r % 11 == 10 ? 0.0f : g(rng) * (r % 7 == 3 ? 40.0f : 1.0f) + (r % 5 == 1 ? 0.7f : 0.0f);
    type_info(type).from_float(v.data(), o.W.data() + size_t(r) * o.ws, n);
  }
  for (int64_t t = 0; t < n_tok; ++t) {
    for (float& f : v) f = g(rng) * (t % 3 == 0 ? 10.0f : 1.0f);
    kernels::convert_activations(TypeId::Q8_K, v.data(), o.X.data() + size_t(t) * o.xs, n);
  }
  const kernels::PackedFormat& f = *kernels::packed_format(type);
  o.packed.assign(f.bytes(n, rows) + 64, 0xAB);
  uint8_t* dst = o.packed.data() + (64 - uintptr_t(o.packed.data()) % 64) % 64;
  f.pack(n, rows, o.W.data(), o.ws, dst);
  o.P = dst;
  return o;
}

std::vector<float> run_reference(const Operands& o, int64_t r0, int64_t r1, int64_t ldy) {
  std::vector<float> y(size_t(ldy * o.n_tok), -777.0f);
  kernels::packed_format(o.type)->matmul_reference(o.n, o.P, o.rows, r0, r1, o.X.data(), o.xs, o.n_tok, y.data(), ldy);
  return y;
}

float generic_dot(TypeId t, int64_t n, const void* w, const void* x) {
  switch (t) {
    case TypeId::Q4_K: return kernels::vec_dot_q4_k_q8_k_generic(n, w, x);
    case TypeId::Q5_K: return kernels::vec_dot_q5_k_q8_k_generic(n, w, x);
    default: return kernels::vec_dot_q6_k_q8_k_generic(n, w, x);
  }
}

struct Shape {
  int64_t n, rows;
};
// Whole groups, tails of plain rows (< 16 and >= 8), one super-block, several.
const Shape kShapes[] = {{256, 16}, {512, 37}, {256, 17}, {768, 48}, {1024, 29}, {2048, 64}};
const int64_t kTokens[] = {1, 2, 5, 8, 9, 16, 17, 20, 33};

}  // namespace

TEST(PackedKx16, SizeIsTheFileRowsPlusUnpackedScales) {
  // Per 16 rows and super-block: codes as in the file, the scales as int8 pairs, padded to 64 bytes.
  EXPECT_EQ(kx16::bytes_q4_k(2048, 256), 16u * 8 * 2368);  // file: 16·8·2304
  EXPECT_EQ(kx16::bytes_q5_k(2048, 256), 16u * 8 * 2880);  // file: 16·8·2816
  EXPECT_EQ(kx16::bytes_q6_k(2048, 256), 16u * 8 * 3392);  // file: 16·8·3360
  EXPECT_EQ(kx16::bytes_q4_k(512, 37), 2u * 2 * 2368 + 5u * 2 * sizeof(BlockQ4_K));
  EXPECT_EQ(kernels::packed_format(TypeId::Q6_K)->bytes(256, 17), 3392u + sizeof(BlockQ6_K));
}

// Byte for byte as packed_kx16.h describes it, for one row of each type.
TEST(PackedKx16, LayoutIsAsDocumented) {
  const Operands q4 = make(TypeId::Q4_K, 512, 37, 1, 5);
  const auto* b4 = reinterpret_cast<const BlockQ4_K*>(q4.W.data() + 21 * q4.ws) + 1;  // row 21, super-block 1
  const kx16::Shape& s4 = kx16::shape(TypeId::Q4_K);
  const uint8_t* sb4 = kx16::group(s4, q4.P, 512, 1) + kx16::sb_bytes(s4);
  for (int l = 0; l < 8; ++l)
    for (int c = 0; c < 4; ++c) ASSERT_EQ(std::memcmp(sb4 + 256 * l + 64 * c + 4 * 5, b4->qs + 32 * c + 4 * l, 4), 0);
  for (int p = 0; p < 8; ++p) {
    uint8_t sc, m;
    unpack_scale_min_k4(p, b4->scales, &sc, &m);
    EXPECT_EQ(sb4[kx16::pairs_offset(s4) + 32 * p + 2 * 5], sc);
    EXPECT_EQ(sb4[kx16::pairs_offset(s4) + 32 * p + 2 * 5 + 1], m);
  }
  EXPECT_EQ(std::memcmp(sb4 + kx16::d_offset(s4) + 10, &b4->d, 2), 0);
  EXPECT_EQ(std::memcmp(sb4 + kx16::dmin_offset(s4) + 10, &b4->dmin, 2), 0);
  EXPECT_EQ(std::memcmp(kx16::tail_row(s4, q4.P, 512, 37, 33), q4.W.data() + 33 * q4.ws, q4.ws), 0);

  const Operands q5 = make(TypeId::Q5_K, 256, 16, 1, 6);
  const auto* b5 = reinterpret_cast<const BlockQ5_K*>(q5.W.data() + 9 * q5.ws);
  const uint8_t* sb5 = kx16::group(kx16::shape(TypeId::Q5_K), q5.P, 256, 0);
  for (int l = 0; l < 8; ++l) {
    for (int c = 0; c < 4; ++c) ASSERT_EQ(std::memcmp(sb5 + 320 * l + 64 * c + 4 * 9, b5->qs + 32 * c + 4 * l, 4), 0);
    ASSERT_EQ(std::memcmp(sb5 + 320 * l + 256 + 4 * 9, b5->qh + 4 * l, 4), 0);
  }

  const Operands q6 = make(TypeId::Q6_K, 256, 16, 1, 7);
  const auto* b6 = reinterpret_cast<const BlockQ6_K*>(q6.W.data() + 14 * q6.ws);
  const kx16::Shape& s6 = kx16::shape(TypeId::Q6_K);
  const uint8_t* sb6 = kx16::group(s6, q6.P, 256, 0);
  for (int l = 0; l < 8; ++l)
    for (int h = 0; h < 2; ++h) {
      for (int p = 0; p < 2; ++p)
        ASSERT_EQ(std::memcmp(sb6 + 384 * l + 64 * (2 * h + p) + 4 * 14, b6->ql + 64 * h + 32 * p + 4 * l, 4), 0);
      ASSERT_EQ(std::memcmp(sb6 + 384 * l + 256 + 64 * h + 4 * 14, b6->qh + 32 * h + 4 * l, 4), 0);
    }
  for (int p = 0; p < 8; ++p)
    EXPECT_EQ(std::memcmp(sb6 + kx16::pairs_offset(s6) + 32 * p + 2 * 14, b6->scales + 2 * p, 2), 0);
  EXPECT_EQ(std::memcmp(sb6 + kx16::d_offset(s6) + 28, &b6->d, 2), 0);
}

// The reference sums each row as the scalar vec_dot does, up to float
// rounding (it keeps KTile's 8 partial sums, ggml's generic code one).
TEST(PackedKx16, ReferenceAgreesWithScalarDot) {
  for (TypeId type : kTypes)
    for (const Shape& s : kShapes) {
      const Operands o = make(type, s.n, s.rows, 3, uint32_t(s.n + s.rows));
      const std::vector<float> y = run_reference(o, 0, o.rows, o.rows);
      for (int64_t t = 0; t < o.n_tok; ++t)
        for (int64_t r = 0; r < o.rows; ++r) {
          const uint8_t* w = o.W.data() + size_t(r) * o.ws;
          const uint8_t* x = o.X.data() + size_t(t) * o.xs;
          const float want = generic_dot(type, o.n, w, x);
          // The rounding's scale: the dot of the dequantized magnitudes.
          std::vector<float> wf(size_t(o.n)), xf(size_t(o.n));
          type_info(type).to_float(w, wf.data(), o.n);
          type_info(TypeId::Q8_K).to_float(x, xf.data(), o.n);
          double mag = 0;
          for (int64_t i = 0; i < o.n; ++i) mag += std::fabs(double(wf[size_t(i)]) * xf[size_t(i)]);
          ASSERT_NEAR(y[size_t(t * o.rows + r)], want, 1e-5 * mag + 1e-30)
              << type_info(type).name << " " << s.n << "x" << s.rows << " r=" << r;
        }
    }
}

// SIMD packed matmul == its scalar reference == matmul_rows == vec_dot on the
// file's rows, bit for bit, and nothing outside [r0, r1) written.
TEST(PackedKx16, MatmulBitwiseMatchesReferenceAndFileRows) {
  for (TypeId type : kTypes) {
    if (!kernels::has_packed_matmul(type)) {
      GTEST_SKIP() << "no packed " << type_info(type).name << " kernel on " << kernels::isa_name(kernels::active_isa());
    }
    for (const Shape& s : kShapes)
      for (int64_t n_tok : kTokens) {
        if (s.n >= 2048 && n_tok > 9 && n_tok != 17) continue;  // long rows: one decode and one prefill count
        const Operands o = make(type, s.n, s.rows, n_tok, uint32_t(s.n * 31 + s.rows + n_tok));
        const int64_t ldy = o.rows + 3;
        const std::pair<int64_t, int64_t> ranges[] = {
            {0, o.rows}, {0, 16}, {16, o.rows}, {3, o.rows - 2}, {5, 6}, {o.rows - 1, o.rows}, {o.rows / 16 * 16, o.rows}};
        for (auto [r0, r1] : ranges) {
          if (r1 <= r0) continue;
          const std::vector<float> want = run_reference(o, r0, r1, ldy);
          std::vector<float> got(want.size(), -777.0f), rows(want.size(), -777.0f);
          kernels::matmul_packed(type, o.n, o.P, o.rows, r0, r1, o.X.data(), o.xs, n_tok, got.data(), ldy);
          kernels::matmul_rows(type, o.n, o.W.data(), o.ws, r0, r1, o.X.data(), o.xs, n_tok, rows.data(), ldy);
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0)
                << type_info(type).name << " " << s.n << "x" << s.rows << " tok " << n_tok << " rows [" << r0 << ", "
                << r1 << ") at " << i << ": " << got[i] << " vs " << want[i];
            ASSERT_EQ(std::memcmp(&rows[i], &want[i], 4), 0)
                << "matmul_rows " << type_info(type).name << " " << s.n << "x" << s.rows << " tok " << n_tok << " at "
                << i << ": " << rows[i] << " vs " << want[i];
          }
        }
        const float dot = kernels::vec_dot(type, o.n, o.W.data(), o.X.data());
        const std::vector<float> y = run_reference(o, 0, 1, 1);
        ASSERT_EQ(std::memcmp(&dot, &y[0], 4), 0) << type_info(type).name << " vec_dot " << dot << " vs " << y[0];
      }
  }
}

// Every x86 SIMD path's matmul_rows and vec_dot (KTile, 256-bit, with and
// without VNNI) do the reference's arithmetic: the same bits, so a row's value
// does not depend on whether it was packed or which x86 path ran it.
TEST(PackedKx16, FileRowsOnEverySimdPathGiveTheReferenceBits) {
  const kernels::Isa saved = kernels::active_isa();
  int paths = 0;
  for (kernels::Isa isa : {kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::isa_supported(isa)) continue;
    kernels::set_isa(isa);
    ++paths;
    for (TypeId type : kTypes)
      for (int64_t n_tok : {1, 2, 3, 8, 11}) {
        const Operands o = make(type, 768, 21, n_tok, uint32_t(n_tok * 7 + 1));
        const std::vector<float> want = run_reference(o, 0, o.rows, o.rows);
        std::vector<float> got(want.size(), -777.0f);
        kernels::matmul_rows(type, o.n, o.W.data(), o.ws, 0, o.rows, o.X.data(), o.xs, n_tok, got.data(), o.rows);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << kernels::isa_name(isa) << " " << type_info(type).name
                                                          << " tok " << n_tok << " at " << i << ": " << got[i]
                                                          << " vs " << want[i];
        const float dot = kernels::vec_dot(type, o.n, o.W.data() + 5 * o.ws, o.X.data());
        ASSERT_EQ(std::memcmp(&dot, &want[5], 4), 0) << kernels::isa_name(isa) << " vec_dot";
      }
  }
  kernels::set_isa(saved);
  if (paths == 0) GTEST_SKIP() << "no x86 SIMD path on this machine";
}

// A Q4_K_M model (Q4_K and Q6_K matrices) loaded with and without repacking:
// the same logits, bit for bit, for one token and for a batch.
TEST(RepackKquant, ModelLogitsUnchanged) {
  const auto dir = test::scratch_dir();
  const std::string f16 = (dir / "mini-f16.gguf").string(), path = (dir / "mini-q4_k_m.gguf").string();
  ASSERT_EQ(test::run_qinfer("create --preset tinyllama-mini --type f16 -o " + f16 + " -q").exit_code, 0);
  const test::CliResult q = test::run_qinfer("quantize " + f16 + " " + path + " Q4_K_M -t 2");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  LoadOptions plain_opt;
  plain_opt.repack = false;
  auto plain = load_model(path, plain_opt);
  auto packed = load_model(path);
  EXPECT_EQ(plain->repack.tensors, 0);
  if (kernels::has_packed_matmul(TypeId::Q4_K)) {
    EXPECT_EQ(packed->repack.tensors, 7 * packed->config.n_layer + (packed->config.tied_embeddings ? 0 : 1));
    EXPECT_NE(packed->layers[0].ffn_down->packed, nullptr);
  }
  const std::vector<int32_t> toks = {1, 450, 4996, 17354, 1701, 432, 17204, 975, 278, 17366, 11203, 29892, 322,
                                     278, 1700, 29892, 17354, 450, 4996, 1};
  test::expect_same_logits(*plain, *packed, toks, {1, 20}, "Q4_K_M");
}
