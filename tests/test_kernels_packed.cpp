// Packed weight layouts (kernels/packed.h) and repacking at load
// (model/repack.h): the packed matmul gives bitwise what matmul_rows gives on
// the file's rows (on the path that has it), its scalar reference agrees
// with both, for every row range, token count and shape tail; and a model
// repacked at load computes the same logits as one that is not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "cli_runner.h"
#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/kernels/packed_iq4_nlx16.h"
#include "qinfer/kernels/packed_q4_0x16.h"
#include "qinfer/kernels/packed_q5_0x16.h"
#include "qinfer/kernels/packed_q8_0x16.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/model/model.h"
#include "qinfer/model/repack.h"
#include "qinfer/runtime/context.h"
#include "logits_compare.h"
#include "test_util.h"

using namespace qinfer;
using kernels::Isa;
namespace q4_0x16 = kernels::q4_0x16;

namespace {

// The types with a packed layout, each checked by the generic tests below.
const TypeId kPackedTypes[] = {TypeId::Q4_0, TypeId::Q8_0, TypeId::Q5_0, TypeId::IQ4_NL};

struct Operands {
  TypeId type = TypeId::Q4_0;
  int64_t n = 0, rows = 0, n_tok = 0;
  size_t ws = 0, xs = 0;
  std::vector<uint8_t> W, X;
  std::vector<uint8_t> packed;  // 64-byte aligned inside
  const uint8_t* P = nullptr;
};

// Random rows of `type` (every 7th row an outlier row, every 11th all zero:
// scale 0) and Q8_0 activations; the rows then packed.
Operands make(TypeId type, int64_t n, int64_t rows, int64_t n_tok, uint32_t seed) {
  Operands o;
  o.type = type;
  o.n = n;
  o.rows = rows;
  o.n_tok = n_tok;
  o.ws = row_size(type, n);
  o.xs = row_size(TypeId::Q8_0, n);
  o.W.resize(o.ws * size_t(rows));
  o.X.resize(o.xs * size_t(n_tok));
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& f : v) f = r % 11 == 10 ? 0.0f : g(rng) * (r % 7 == 3 ? 40.0f : 1.0f);
    type_info(type).from_float(v.data(), o.W.data() + size_t(r) * o.ws, n);
  }
  if (type == TypeId::Q8_0 && rows > 2) {
    // Code -128 (which the file format allows, the quantizer never writes) in row 2.
    auto* b = reinterpret_cast<BlockQ8_0*>(o.W.data() + 2 * o.ws);
    b[0].qs[5] = -128;
    b[n / 32 - 1].qs[31] = -128;
  }
  for (int64_t t = 0; t < n_tok; ++t) {
    for (float& f : v) f = g(rng);
    kernels::convert_activations(TypeId::Q8_0, v.data(), o.X.data() + size_t(t) * o.xs, n);
  }
  const kernels::PackedFormat& f = *kernels::packed_format(type);
  o.packed.assign(f.bytes(n, rows) + 64, 0xAB);
  uint8_t* dst = o.packed.data() + (64 - uintptr_t(o.packed.data()) % 64) % 64;
  f.pack(n, rows, o.W.data(), o.ws, dst);
  o.P = dst;
  return o;
}
Operands make(int64_t n, int64_t rows, int64_t n_tok, uint32_t seed) { return make(TypeId::Q4_0, n, rows, n_tok, seed); }

std::vector<float> run_reference(const Operands& o, int64_t r0, int64_t r1, int64_t ldy) {
  std::vector<float> y(size_t(ldy * o.n_tok), -777.0f);
  kernels::packed_format(o.type)->matmul_reference(o.n, o.P, o.rows, r0, r1, o.X.data(), o.xs, o.n_tok, y.data(), ldy);
  return y;
}

// The scalar vec_dot of one block pair (the reference sums each row as it does).
float scalar_dot(TypeId type, int64_t n, const void* w, const void* x) {
  switch (type) {
    case TypeId::Q4_0: return kernels::vec_dot_q4_0_q8_0_generic(n, w, x);
    case TypeId::Q8_0: return kernels::vec_dot_q8_0_q8_0_generic(n, w, x);
    case TypeId::Q5_0: return kernels::vec_dot_q5_0_q8_0_generic(n, w, x);
    case TypeId::IQ4_NL: return kernels::vec_dot_iq4_nl_q8_0_generic(n, w, x);
    default: ADD_FAILURE() << "no scalar dot for " << type_info(type).name; return 0;
  }
}

// The shapes: whole groups, a tail of plain rows (< 16 and >= 8), odd block
// counts (the group padding), one block, more blocks than the decode path's
// scratch holds (its prefill fallback).
struct Shape {
  int64_t n, rows;
};
const Shape kShapes[] = {{32, 16}, {64, 37}, {96, 17}, {256, 48}, {160, 29}, {2048, 64}, {32 * 1025, 16}};
const int64_t kTokens[] = {1, 2, 3, 5, 8, 9, 16, 17, 20, 25};

bool packed_path(TypeId type = TypeId::Q4_0) { return kernels::has_packed_matmul(type); }

class PackedTypes : public ::testing::TestWithParam<TypeId> {};

std::string type_name(const ::testing::TestParamInfo<TypeId>& info) { return type_info(info.param).name; }

}  // namespace

TEST(PackedX16, SizeIsTheFileRowsPlusGroupPadding) {
  EXPECT_EQ(q4_0x16::bytes(2048, 256), row_size(TypeId::Q4_0, 2048) * 256);  // even block count: no padding
  EXPECT_EQ(q4_0x16::bytes(5632, 2048), row_size(TypeId::Q4_0, 5632) * 2048);
  EXPECT_EQ(q4_0x16::bytes(96, 37), 2 * 896u + 5 * 54u);  // 3 blocks × 288 = 864, padded to 64
  EXPECT_EQ(kernels::q8_0x16::bytes(2048, 256), row_size(TypeId::Q8_0, 2048) * 256);
  EXPECT_EQ(kernels::q8_0x16::bytes(96, 37), 2 * 1664u + 5 * 102u);  // 3 × 544 = 1632, padded to 64
  EXPECT_EQ(kernels::iq4_nlx16::bytes(5632, 2048), row_size(TypeId::IQ4_NL, 5632) * 2048);
  EXPECT_EQ(kernels::iq4_nlx16::bytes(96, 37), 2 * 896u + 5 * 54u);
  EXPECT_EQ(kernels::q5_0x16::bytes(2048, 256), row_size(TypeId::Q5_0, 2048) * 256);
  EXPECT_EQ(kernels::q5_0x16::bytes(96, 37), 2 * 1088u + 5 * 66u);  // 3 × 352 = 1056, padded to 64
}

// The layouts as the headers describe them, byte for byte.
TEST(PackedX16, LayoutIsAsDocumented) {
  namespace x16 = kernels::x16;
  for (TypeId type : {TypeId::Q4_0, TypeId::Q8_0, TypeId::Q5_0, TypeId::IQ4_NL}) {
    const Operands o = make(type, 96, 37, 1, 7);
    const x16::Layout& L = type == TypeId::Q4_0   ? q4_0x16::kLayout
                           : type == TypeId::Q8_0 ? kernels::q8_0x16::kLayout
                           : type == TypeId::Q5_0 ? kernels::q5_0x16::kLayout
                                                  : kernels::iq4_nlx16::kLayout;
    for (int64_t r = 0; r < 32; ++r) {
      const uint8_t* row = o.W.data() + size_t(r) * o.ws;
      const uint8_t* grp = x16::group(L, o.P, o.n, r / 16);
      const int j = int(r % 16);
      for (int64_t ib = 0; ib < 3; ++ib) {
        const uint8_t* blk = row + size_t(ib) * L.row_block;
        if (type == TypeId::Q8_0) {
          for (int e = 0; e < 32; ++e)  // element e = byte e of qs, stored + 128
            ASSERT_EQ(x16::codes(L, grp, ib)[64 * (e / 4) + 4 * j + e % 4], uint8_t(blk[2 + e] ^ 0x80)) << r << " " << ib;
        } else if (type == TypeId::Q5_0) {
          const auto& b5 = *reinterpret_cast<const BlockQ5_0*>(blk);
          uint32_t qh;
          std::memcpy(&qh, b5.qh, 4);
          for (int b = 0; b < 16; ++b)
            ASSERT_EQ(x16::codes(L, grp, ib)[64 * (b / 4) + 4 * j + b % 4], b5.qs[b]) << r << " " << ib;
          for (int e = 0; e < 32; ++e)  // bit 4 of element e: bit e/4 of byte 4j + e%4 after the nibbles
            ASSERT_EQ((x16::codes(L, grp, ib)[kernels::q5_0x16::kHighBitsOffset + 4 * j + e % 4] >> (e / 4)) & 1,
                      int((qh >> e) & 1))
                << r << " " << ib << " " << e;
        } else {
          for (int b = 0; b < 16; ++b)
            ASSERT_EQ(x16::codes(L, grp, ib)[64 * (b / 4) + 4 * j + b % 4], blk[2 + b]) << r << " " << ib;
        }
        ASSERT_EQ(std::memcmp(x16::scales(L, grp, o.n, ib) + 2 * j, blk, 2), 0);
      }
    }
    for (int64_t r = 32; r < 37; ++r)
      ASSERT_EQ(std::memcmp(x16::tail_row(L, o.P, o.n, o.rows, r), o.W.data() + size_t(r) * o.ws, o.ws), 0);
  }
}

// The scalar reference sums each row as the scalar vec_dot does (per block an
// exact integer sum times d_w·d_x; fused or not, the difference is rounding).
TEST_P(PackedTypes, ReferenceAgreesWithScalarDot) {
  const TypeId type = GetParam();
  const size_t wb = row_size(type, 32), xb = row_size(TypeId::Q8_0, 32);
  for (const Shape& s : kShapes) {
    if (s.n > 4096) continue;
    const Operands o = make(type, s.n, s.rows, 3, uint32_t(s.n + s.rows));
    const std::vector<float> y = run_reference(o, 0, o.rows, o.rows);
    for (int64_t t = 0; t < o.n_tok; ++t)
      for (int64_t r = 0; r < o.rows; ++r) {
        const uint8_t* w = o.W.data() + size_t(r) * o.ws;
        const uint8_t* x = o.X.data() + size_t(t) * o.xs;
        const float d = scalar_dot(type, o.n, w, x);
        double abs_sum = 0;  // Σ|block term|: the scale of the float rounding
        for (int64_t ib = 0; ib < o.n / 32; ++ib)
          abs_sum += std::fabs(double(scalar_dot(type, 32, w + size_t(ib) * wb, x + size_t(ib) * xb)));
        ASSERT_NEAR(y[size_t(t * o.rows + r)], d, 1e-6 * abs_sum + 1e-30) << s.n << "x" << s.rows << " r=" << r;
      }
  }
}

// SIMD packed matmul == its scalar reference == matmul_rows on the file's
// rows, bit for bit, and nothing outside [r0, r1) written.
TEST_P(PackedTypes, MatmulBitwiseMatchesReferenceAndFileRows) {
  const TypeId type = GetParam();
  if (!packed_path(type))
    GTEST_SKIP() << "no packed " << type_info(type).name << " kernel on " << kernels::isa_name(kernels::active_isa());
  for (const Shape& s : kShapes)
    for (int64_t n_tok : kTokens) {
      if (s.n > 4096 && n_tok > 2) continue;  // the long rows: one decode and one prefill count suffice
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
              << s.n << "x" << s.rows << " tok " << n_tok << " rows [" << r0 << ", " << r1 << ") at " << i << ": "
              << got[i] << " vs " << want[i];
          ASSERT_EQ(std::memcmp(&rows[i], &want[i], 4), 0)
              << "matmul_rows " << s.n << "x" << s.rows << " tok " << n_tok << " at " << i;
        }
      }
    }
}

// Prefill-length batches (many 8-token tiles, a ragged last one, rows of more
// than one 32-block chunk): the packed prefill path against the reference.
TEST_P(PackedTypes, LongBatchesMatchReference) {
  const TypeId type = GetParam();
  if (!packed_path(type)) GTEST_SKIP() << "no packed kernel";
  const Operands o = make(type, 32 * 70, 16 * 9 + 5, 67, 99);
  const std::vector<float> want = run_reference(o, 0, o.rows, o.rows);
  std::vector<float> got(want.size(), -777.0f);
  kernels::matmul_packed(type, o.n, o.P, o.rows, 0, o.rows, o.X.data(), o.xs, o.n_tok, got.data(), o.rows);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << "at " << i << ": " << got[i] << " vs " << want[i];
}

INSTANTIATE_TEST_SUITE_P(Formats, PackedTypes, ::testing::ValuesIn(kPackedTypes), type_name);

TEST(PackedQ4_0x16, UnsupportedPathIsAnErrorNotAWrongAnswer) {
  const Isa saved = kernels::active_isa();
  kernels::set_isa(Isa::Scalar);
  EXPECT_FALSE(kernels::has_packed_matmul(TypeId::Q4_0));
  const Operands o = make(64, 16, 1, 3);
  std::vector<float> y(16);
  EXPECT_THROW(kernels::matmul_packed(TypeId::Q4_0, 64, o.P, 16, 0, 16, o.X.data(), o.xs, 1, y.data(), 16), Error);
  kernels::set_isa(saved);
  EXPECT_EQ(kernels::packed_format(TypeId::Q8_K), nullptr);
}

// A model of each packed type loaded with and without repacking: the same
// logits, bit for bit, for one token and for a batch; and a pinned path
// without the packed kernel runs the repacked model on the file's rows.
TEST(Repack, ModelLogitsUnchanged) {
  const auto dir = test::scratch_dir();
  for (TypeId type : kPackedTypes) {
    const std::string name = type_info(type).name;
    const std::string path = (dir / ("mini-" + name + ".gguf")).string();
    if (type == TypeId::IQ4_NL) {  // `create` writes llama.cpp's file types only: quantize an F16 one
      const std::string f16 = (dir / "mini-f16.gguf").string();
      ASSERT_EQ(test::run_qinfer("create --preset tinyllama-mini --type f16 -o " + f16 + " -q").exit_code, 0);
      ASSERT_EQ(test::run_qinfer("quantize " + f16 + " " + path +
                                 " IQ4_NL --pure --output-tensor-type f16 --token-embedding-type f16 -t 2")
                    .exit_code,
                0);
    } else {
      ASSERT_EQ(test::run_qinfer("create --preset tinyllama-mini --type " + name + " -o " + path + " -q").exit_code, 0);
    }
    LoadOptions plain_opt;
    plain_opt.repack = false;
    auto plain = load_model(path, plain_opt);
    auto packed = load_model(path);
    EXPECT_EQ(plain->repack.tensors, 0);
    if (packed_path(type)) {
      const bool output_packs = !packed->config.tied_embeddings && packed->output->type == type;
      EXPECT_EQ(packed->repack.tensors, 7 * packed->config.n_layer + (output_packs ? 1 : 0)) << name;
      EXPECT_NE(packed->layers[0].wq->packed, nullptr);
      EXPECT_EQ(packed->repack.bytes, packed->repack.file_bytes);  // TinyLlama's shapes: whole groups, even blocks
    } else {
      EXPECT_EQ(packed->repack.tensors, 0);
    }
    const std::vector<int32_t> toks = {1, 450, 4996, 17354, 1701, 432, 17204, 975, 278, 17366, 11203};
    test::expect_same_logits(*plain, *packed, toks, {1, 11}, name);
  }
}

TEST(Repack, EnvironmentOptOut) {
  ::setenv("QINFER_NO_REPACK", "1", 1);
  EXPECT_FALSE(repack_allowed_by_env());
  EXPECT_FALSE(repacks(TypeId::Q4_0, 2048, 2048));
  ::setenv("QINFER_NO_REPACK", "0", 1);
  EXPECT_TRUE(repack_allowed_by_env());
  ::unsetenv("QINFER_NO_REPACK");
  EXPECT_TRUE(repack_allowed_by_env());
  EXPECT_EQ(repacks(TypeId::Q4_0, 2048, 2048), packed_path());
  EXPECT_FALSE(repacks(TypeId::Q4_0, 2048, 8));  // less than a group
}
