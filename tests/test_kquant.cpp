// k-quants (Q2_K…Q6_K) and IQ4_NL: layouts, dequantization, and byte-exactness
// of llama-quantize's row quantizers (with and without an importance matrix)
// against the tiny256 goldens written by llama.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/quantize/imatrix_file.h"
#include "qinfer/quant/iq4_nl.h"
#include "qinfer/quant/q2_k.h"
#include "qinfer/quant/q3_k.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/q6_k.h"
#include "qinfer/quant/type_registry.h"
#include "test_util.h"

using namespace qinfer;

namespace {

const TypeId kNewTypes[] = {TypeId::Q2_K, TypeId::Q3_K, TypeId::Q4_K, TypeId::Q5_K, TypeId::Q6_K, TypeId::IQ4_NL};

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> quantize(TypeId t, const std::vector<float>& x, const float* imatrix = nullptr,
                              int64_t nrows = 1) {
  const int64_t n_per_row = int64_t(x.size()) / nrows;
  std::vector<uint8_t> q(row_size(t, n_per_row) * size_t(nrows));
  const size_t written = type_info(t).quantize(x.data(), q.data(), nrows, n_per_row, imatrix);
  EXPECT_EQ(written, q.size());
  return q;
}

std::vector<float> dequantize(TypeId t, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n);
  type_info(t).to_float(q.data(), y.data(), int64_t(n));
  return y;
}

// Relative RMS error of the round trip.
double rel_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += double(x[i] - y[i]) * double(x[i] - y[i]);
    s += double(x[i]) * double(x[i]);
  }
  return std::sqrt(e / s);
}

}  // namespace

// ---------------------------------------------------------------------------
// Registry rows and layouts

TEST(KQuantRegistry, RowsMatchGgml) {
  struct Expect {
    TypeId id;
    const char* name;
    int64_t block;
    size_t bytes;
    TypeId dot;
  };
  const Expect rows[] = {
      {TypeId::Q2_K, "q2_K", 256, 84, TypeId::Q8_K},   {TypeId::Q3_K, "q3_K", 256, 110, TypeId::Q8_K},
      {TypeId::Q4_K, "q4_K", 256, 144, TypeId::Q8_K},  {TypeId::Q5_K, "q5_K", 256, 176, TypeId::Q8_K},
      {TypeId::Q6_K, "q6_K", 256, 210, TypeId::Q8_K},  {TypeId::IQ4_NL, "iq4_nl", 32, 18, TypeId::Q8_0},
  };
  for (const auto& e : rows) {
    const TypeInfo* info = find_type(e.id);
    ASSERT_NE(info, nullptr) << e.name;
    EXPECT_STREQ(info->name, e.name);
    EXPECT_EQ(info->block_size, e.block) << e.name;
    EXPECT_EQ(info->type_size, e.bytes) << e.name;
    EXPECT_EQ(info->vec_dot_type, e.dot) << e.name;
    EXPECT_TRUE(info->quantized);
    EXPECT_NE(info->to_float, nullptr) << e.name;
    EXPECT_NE(info->from_float, nullptr) << e.name;
    EXPECT_NE(info->quantize, nullptr) << e.name;
    EXPECT_EQ(find_type(std::string_view(e.name)), info);
  }
  // Every type that can be written can also be written through `quantize`.
  size_t n = 0;
  const TypeInfo* const* all = all_types(&n);
  for (size_t i = 0; i < n; ++i)
    if (all[i]->quantized && all[i]->from_float && all[i]->id != TypeId::Q8_1 && all[i]->id != TypeId::Q8_K) {
      EXPECT_NE(all[i]->quantize, nullptr) << all[i]->name;
    }
}

TEST(KQuantLayout, IQ4NLCodebookAndScaleUnpacking) {
  const int8_t want[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(kIQ4NLValues[i], want[i]);
  // pack_scale_min_k4 and unpack_scale_min_k4 are inverse for every 6-bit pair.
  for (int v = 0; v < 64; ++v) {
    uint8_t s[12] = {};
    for (int j = 0; j < 8; ++j) pack_scale_min_k4(j, s, uint8_t((v + 7 * j) & 63), uint8_t((v * 3 + j) & 63));
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, s, &sc, &m);
      EXPECT_EQ(sc, (v + 7 * j) & 63);
      EXPECT_EQ(m, (v * 3 + j) & 63);
    }
  }
}

// Hand-built blocks decode to the values the layout comments promise.
TEST(KQuantDequant, HandBuiltBlocks) {
  {  // Q2_K: sub-block j has scale code j%16, min code 1; element e gets code e%4.
    BlockQ2_K b{};
    b.d = f32_to_fp16(0.5f);
    b.dmin = f32_to_fp16(0.25f);
    for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t((j & 15) | (1 << 4));
    std::vector<int> code(256);
    for (int e = 0; e < 256; ++e) code[e] = (e * 7 + 3) % 4;
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l)
        b.qs[32 * h + l] = uint8_t(code[128 * h + l] | code[128 * h + l + 32] << 2 | code[128 * h + l + 64] << 4 |
                                   code[128 * h + l + 96] << 6);
    float y[256];
    dequantize_row_q2_k(&b, y, 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * float(e / 16) * float(code[e]) - 0.25f) << e;
  }
  {  // Q3_K: all scale codes 33 (value 1), element e has code e%8 (value e%8 − 4).
    BlockQ3_K b{};
    b.d = f32_to_fp16(2.0f);
    for (int j = 0; j < 8; ++j) b.scales[j] = 0x11;       // low nibbles of scale codes 0..15 = 1
    for (int j = 8; j < 12; ++j) b.scales[j] = 0xAA;      // high 2 bits = 2 → code 33
    for (int e = 0; e < 256; ++e) {
      const int c = e % 8;
      if (c & 4) b.hmask[e % 32] |= uint8_t(1 << (e / 32));
      const int h = e / 128, r = e % 128, pass = r / 32, l = r % 32;
      b.qs[32 * h + l] |= uint8_t((c & 3) << (2 * pass));
    }
    float y[256];
    dequantize_row_q3_k(&b, y, 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 2.0f * float(e % 8 - 4)) << e;
  }
  {  // Q5_K: scale j+1, min j, element e has code e%32.
    BlockQ5_K b{};
    b.d = f32_to_fp16(1.0f);
    b.dmin = f32_to_fp16(0.5f);
    for (int j = 0; j < 8; ++j) pack_scale_min_k4(j, b.scales, uint8_t(j + 1), uint8_t(j));
    for (int e = 0; e < 256; ++e) {
      const int c = e % 32, j = e / 32, chunk = j / 2;
      b.qs[32 * chunk + e % 32] |= uint8_t((c & 15) << (4 * (j % 2)));
      if (c & 16) b.qh[e % 32] |= uint8_t(1 << j);
    }
    float y[256];
    dequantize_row_q5_k(&b, y, 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], float(e / 32 + 1) * float(e % 32) - 0.5f * float(e / 32)) << e;
  }
  {  // IQ4_NL: code of element j is j%16.
    BlockIQ4_NL b{};
    b.d = f32_to_fp16(0.125f);
    for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t((j % 16) | ((j % 16) << 4));
    float y[32];
    dequantize_row_iq4_nl(&b, y, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.125f * float(kIQ4NLValues[j % 16])) << j;
  }
}

// ---------------------------------------------------------------------------
// Round trips and degenerate input

TEST(KQuantRoundTrip, ErrorShrinksWithBits) {
  const auto x = randn(256 * 16, 7);
  // Relative RMS bounds from the bit widths (uniform-ish error, Gaussian data).
  const std::map<TypeId, double> bound = {{TypeId::Q2_K, 0.45}, {TypeId::Q3_K, 0.22}, {TypeId::Q4_K, 0.11},
                                          {TypeId::Q5_K, 0.055}, {TypeId::Q6_K, 0.028}, {TypeId::IQ4_NL, 0.12}};
  double prev = 1.0;
  for (TypeId t : {TypeId::Q2_K, TypeId::Q3_K, TypeId::Q4_K, TypeId::Q5_K, TypeId::Q6_K}) {
    const double e = rel_rms(x, dequantize(t, quantize(t, x), x.size()));
    EXPECT_LT(e, bound.at(t)) << type_info(t).name;
    EXPECT_LT(e, prev) << type_info(t).name;
    prev = e;
  }
  EXPECT_LT(rel_rms(x, dequantize(TypeId::IQ4_NL, quantize(TypeId::IQ4_NL, x), x.size())), bound.at(TypeId::IQ4_NL));
}

TEST(KQuantRoundTrip, AllZeroBlocksDecodeToZero) {
  const std::vector<float> x(512, 0.0f);
  const std::vector<float> w(512, 1.0f);
  for (TypeId t : kNewTypes)
    for (const float* imat : {static_cast<const float*>(nullptr), w.data()}) {
      const auto y = dequantize(t, quantize(t, x, imat), x.size());
      for (float v : y) ASSERT_EQ(v, 0.0f) << type_info(t).name << (imat ? " (imatrix)" : "");
    }
}

TEST(KQuantRoundTrip, OneHugeOutlierIsKept) {
  auto x = randn(256, 3, 0.01f);
  x[77] = 1000.0f;
  for (TypeId t : kNewTypes) {
    const auto y = dequantize(t, quantize(t, x), x.size());
    // The outlier sets the scale, so it survives within the fp16 scale's precision.
    EXPECT_NEAR(y[77], 1000.0f, 1000.0f * 0.01f) << type_info(t).name;
    for (float v : y) EXPECT_TRUE(std::isfinite(v)) << type_info(t).name;
  }
}

TEST(KQuantRoundTrip, DenormalInputIsFinite) {
  std::vector<float> x(256);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::numeric_limits<float>::denorm_min() * float(int(i % 13) - 6) * 1000.0f;
  for (TypeId t : kNewTypes) {
    const auto q = quantize(t, x);
    const auto y = dequantize(t, q, x.size());
    // Far below fp16's range: every value decodes to (signed) zero, never NaN.
    for (float v : y) EXPECT_EQ(v, 0.0f) << type_info(t).name;
  }
}

TEST(KQuantRoundTrip, NonFiniteInputThrows) {
  for (TypeId t : kNewTypes) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      auto x = randn(512, 11);
      x[300] = bad;
      std::vector<uint8_t> q(row_size(t, 256) * 2);
      try {
        type_info(t).quantize(x.data(), q.data(), 2, 256, nullptr);
        ADD_FAILURE() << type_info(t).name << " accepted " << bad;
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("row 1 column 44"), std::string::npos) << e.what();
      }
    }
    std::vector<float> x = randn(256, 12), w(256, 1.0f);
    w[5] = std::numeric_limits<float>::infinity();
    std::vector<uint8_t> q(row_size(t, 256));
    EXPECT_THROW(type_info(t).quantize(x.data(), q.data(), 1, 256, w.data()), InputError) << type_info(t).name;
    EXPECT_THROW(type_info(t).quantize(x.data(), q.data(), 1, 200, nullptr), InputError) << type_info(t).name;
  }
}

// Without an importance vector, `quantize` is the ref quantizer (from_float).
TEST(KQuantRoundTrip, QuantizeWithoutImatrixIsFromFloat) {
  const auto x = randn(256 * 3, 21);
  size_t n = 0;
  const TypeInfo* const* all = all_types(&n);
  for (size_t i = 0; i < n; ++i) {
    const TypeInfo* t = all[i];
    if (!t->quantize || !t->from_float) continue;
    const size_t rs = row_size(t->id, 256);
    std::vector<uint8_t> a(rs * 3), b(a.size());
    // Row by row: a type with a per-row header (INT8) takes whole rows.
    for (size_t r = 0; r < 3; ++r) t->from_float(x.data() + r * 256, a.data() + r * rs, 256);
    EXPECT_EQ(t->quantize(x.data(), b.data(), 3, 256, nullptr), b.size());
    EXPECT_EQ(a, b) << t->name;
  }
}

// The importance vector steers the error toward the columns it marks unimportant.
TEST(KQuantRoundTrip, ImatrixLowersErrorWhereItMatters) {
  const auto x = randn(256 * 8, 5);
  std::vector<float> w(256, 0.01f);
  for (int j = 0; j < 256; j += 4) w[j] = 100.0f;  // every 4th column matters
  for (TypeId t : {TypeId::Q2_K, TypeId::Q3_K, TypeId::Q4_K, TypeId::Q5_K, TypeId::Q6_K, TypeId::IQ4_NL,
                   TypeId::Q4_0, TypeId::Q4_1, TypeId::Q5_0, TypeId::Q5_1}) {
    auto err = [&](const float* imat) {
      const auto y = dequantize(t, quantize(t, x, imat, 8), x.size());
      double e = 0;
      for (size_t i = 0; i < x.size(); i += 4) e += double(x[i] - y[i]) * double(x[i] - y[i]);
      return e;
    };
    EXPECT_LT(err(w.data()), err(nullptr)) << type_info(t).name;
  }
}

// ---------------------------------------------------------------------------
// imatrix file

TEST(ImatrixFile, ReadsTiny256Imatrix) {
  QINFER_REQUIRE_DATA("golden/tiny256/imatrix.dat");
  const ImatrixFile f = read_imatrix_file(test::data_path("golden/tiny256/imatrix.dat"));
  EXPECT_EQ(f.entries.size(), 14u);
  EXPECT_EQ(f.last_call, 50);
  EXPECT_EQ(f.dataset, "shared/data/text/tinystories-valid-a.txt");
  ASSERT_NE(f.find("blk.0.ffn_down.weight"), nullptr);
  EXPECT_EQ(f.find("blk.0.ffn_down.weight")->size(), 768u);
  ASSERT_NE(f.find("blk.1.attn_q.weight"), nullptr);
  EXPECT_EQ(f.find("blk.1.attn_q.weight")->size(), 256u);
  EXPECT_EQ(f.find("output.weight"), nullptr);
  for (const auto& [name, v] : f.entries)
    for (float x : v) EXPECT_TRUE(std::isfinite(x) && x >= 0) << name;
}

namespace {
void put_i32(std::vector<unsigned char>& b, int32_t v) {
  const auto* p = reinterpret_cast<const unsigned char*>(&v);
  b.insert(b.end(), p, p + 4);
}
std::vector<unsigned char> one_entry(const std::string& name, int32_t ncall, const std::vector<float>& vals) {
  std::vector<unsigned char> b;
  put_i32(b, 1);
  put_i32(b, int32_t(name.size()));
  b.insert(b.end(), name.begin(), name.end());
  put_i32(b, ncall);
  put_i32(b, int32_t(vals.size()));
  const auto* p = reinterpret_cast<const unsigned char*>(vals.data());
  b.insert(b.end(), p, p + vals.size() * 4);
  return b;
}
}  // namespace

TEST(ImatrixFile, DividesByNcallAndRejectsBadFiles) {
  auto b = one_entry("w", 4, {8.0f, 2.0f});
  ImatrixFile f = parse_imatrix(b.data(), b.size(), "mem");
  ASSERT_NE(f.find("w"), nullptr);
  EXPECT_EQ(*f.find("w"), (std::vector<float>{2.0f, 0.5f}));
  EXPECT_EQ(f.last_call, 0);
  EXPECT_EQ(f.dataset, "");

  auto z = one_entry("w", 0, {8.0f});  // ncall 0: values kept as stored
  EXPECT_EQ(*parse_imatrix(z.data(), z.size(), "mem").find("w"), std::vector<float>{8.0f});

  for (size_t cut = 1; cut < b.size(); ++cut)
    EXPECT_THROW(parse_imatrix(b.data(), cut, "mem"), InputError) << cut;
  auto nan = one_entry("w", 1, {1.0f, std::numeric_limits<float>::quiet_NaN()});
  EXPECT_THROW(parse_imatrix(nan.data(), nan.size(), "mem"), InputError);
  auto empty = one_entry("w", 1, {});
  EXPECT_THROW(parse_imatrix(empty.data(), empty.size(), "mem"), InputError);
  std::vector<unsigned char> none;
  put_i32(none, 0);
  EXPECT_THROW(parse_imatrix(none.data(), none.size(), "mem"), InputError);
  try {
    read_imatrix_file("/nonexistent/imatrix.dat");
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/imatrix.dat"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// Byte-exactness against llama-quantize (tiny256 goldens)

namespace {

struct GoldenStats {
  std::map<std::string, int> tensors;        // type name → tensors compared
  std::map<std::string, int64_t> blocks;     // type name → blocks compared
  std::map<std::string, int64_t> identical;  // type name → identical blocks
};

// Quantizes every quantized tensor of the golden file from tiny256-F32.gguf with
// the registry's `quantize` (and the imatrix entry of the same name, if given),
// comparing bytes block by block.
GoldenStats compare_golden(const std::string& golden_rel, const ImatrixFile* imatrix) {
  GoldenStats st;
  auto src = GgufFile::open(test::data_path("golden/tiny256/tiny256-F32.gguf"));
  auto gold = GgufFile::open(test::data_path(golden_rel));
  for (const GgufTensorInfo& gt : gold->tensors()) {
    if (gt.type == TypeId::F32) continue;
    const GgufTensorInfo* s = src->find_tensor(gt.name);
    EXPECT_NE(s, nullptr) << gt.name;
    if (!s) continue;
    const TypeInfo* info = find_type(gt.type);
    EXPECT_TRUE(info && info->quantize) << golden_rel << ": " << gt.name;
    if (!info || !info->quantize) continue;
    const int64_t n_per_row = s->ne[0], nrows = s->n_elements() / n_per_row;
    const std::vector<float>* w = imatrix ? imatrix->find(gt.name) : nullptr;
    if (w) {
      EXPECT_EQ(int64_t(w->size()), n_per_row) << gt.name;
    }
    std::vector<uint8_t> out(row_size(gt.type, n_per_row) * size_t(nrows));
    const size_t written = info->quantize(reinterpret_cast<const float*>(src->tensor_data(*s)), out.data(), nrows,
                                          n_per_row, w ? w->data() : nullptr);
    EXPECT_EQ(written, gt.nbytes) << gt.name;
    if (written != gt.nbytes) continue;
    const uint8_t* want = gold->tensor_data(gt);
    const size_t nblk = written / info->type_size;
    size_t same = 0, first_bad = nblk;
    for (size_t b = 0; b < nblk; ++b) {
      if (std::memcmp(out.data() + b * info->type_size, want + b * info->type_size, info->type_size) == 0)
        ++same;
      else if (first_bad == nblk)
        first_bad = b;
    }
    st.tensors[info->name]++;
    st.blocks[info->name] += int64_t(nblk);
    st.identical[info->name] += int64_t(same);
    if (same != nblk) {
      size_t i = first_bad * info->type_size;
      while (out[i] == want[i]) ++i;
      ADD_FAILURE() << golden_rel << ": " << gt.name << " (" << info->name << (w ? ", imatrix" : "") << "): "
                    << same << "/" << nblk << " blocks identical; first difference at byte " << i << " (block "
                    << first_bad << ", byte " << i % info->type_size << "): got " << int(out[i]) << ", llama.cpp "
                    << int(want[i]);
    }
  }
  return st;
}

std::string summary(const GoldenStats& st) {
  std::string s;
  for (const auto& [name, n] : st.tensors)
    s += " " + name + ":" + std::to_string(n) + " tensors " + std::to_string(st.identical.at(name)) + "/" +
         std::to_string(st.blocks.at(name)) + " blocks;";
  return s;
}

class KQuantGolden : public ::testing::TestWithParam<const char*> {};

}  // namespace

TEST_P(KQuantGolden, ByteIdenticalToLlamaQuantize) {
  const std::string rel = std::string("golden/tiny256/tiny256-") + GetParam() + ".gguf";
  QINFER_REQUIRE_DATA("golden/tiny256/tiny256-F32.gguf");
  QINFER_REQUIRE_DATA(rel);
  const bool with_imatrix = std::string(GetParam()).find("imatrix") != std::string::npos;
  ImatrixFile im;
  if (with_imatrix) {
    QINFER_REQUIRE_DATA("golden/tiny256/imatrix.dat");
    im = read_imatrix_file(test::data_path("golden/tiny256/imatrix.dat"));
  }
  const GoldenStats st = compare_golden(rel, with_imatrix ? &im : nullptr);
  int total = 0;
  for (const auto& [name, n] : st.tensors) total += n;
  EXPECT_EQ(total, 16) << rel;  // 7 matrices × 2 layers + token_embd + output
  std::printf("[ %s ]%s\n", GetParam(), summary(st).c_str());
}

INSTANTIATE_TEST_SUITE_P(Tiny256, KQuantGolden,
                         ::testing::Values("Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                                           "Q5_K_M", "Q6_K", "IQ4_NL", "Q4_K_M-imatrix", "IQ4_NL-imatrix", "Q4_0",
                                           "Q4_1", "Q5_0", "Q5_1", "Q8_0"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// The weighted paths of the other types have no golden file in shared/data. These
// are FNV-1a-64 hashes of the quantized tensors (file order, F32 norms skipped) that
// llama-quantize of llama.cpp b8884 (/work/peers/llama.cpp) wrote for
// `llama-quantize --imatrix golden/tiny256/imatrix.dat tiny256-F32.gguf out.gguf TYPE 1`.
// Its tensor types equal those of the b4748 goldens without imatrix, which supply
// the per-tensor types here; its Q4_K_M/IQ4_NL imatrix outputs are byte-identical
// to the b4748 imatrix goldens (so the algorithms did not change between builds).
TEST(KQuantGoldenHash, ImatrixPathsOfEveryTypeMatchLlamaQuantize) {
  QINFER_REQUIRE_DATA("golden/tiny256/tiny256-F32.gguf");
  QINFER_REQUIRE_DATA("golden/tiny256/imatrix.dat");
  const ImatrixFile im = read_imatrix_file(test::data_path("golden/tiny256/imatrix.dat"));
  auto src = GgufFile::open(test::data_path("golden/tiny256/tiny256-F32.gguf"));
  const struct {
    const char* file;
    uint64_t hash;
  } cases[] = {
      {"Q4_0", 0x6b59a0623625dd26ull}, {"Q4_1", 0x1ce48de62b976254ull},   {"Q5_0", 0x3d22072cdc97eda0ull},
      {"Q5_1", 0x220973963fbe35e0ull}, {"Q2_K", 0x65d7474f93268e71ull},   {"Q3_K_L", 0xdc27efcd3471ea64ull},
      {"Q6_K", 0x1e477b2edcf72ab4ull}, {"Q5_K_S", 0x8f31566637174c63ull}, {"Q4_K_M", 0x352fe3084c532c8full},
  };
  for (const auto& c : cases) {
    const std::string rel = std::string("golden/tiny256/tiny256-") + c.file + ".gguf";
    QINFER_REQUIRE_DATA(rel);
    auto types = GgufFile::open(test::data_path(rel));
    uint64_t h = 0xcbf29ce484222325ull;
    int n_weighted = 0;
    for (const GgufTensorInfo& gt : types->tensors()) {
      if (gt.type == TypeId::F32) continue;
      const GgufTensorInfo* s = src->find_tensor(gt.name);
      ASSERT_NE(s, nullptr) << gt.name;
      const int64_t n_per_row = s->ne[0], nrows = s->n_elements() / n_per_row;
      const std::vector<float>* w = im.find(gt.name);
      n_weighted += w != nullptr;
      std::vector<uint8_t> out(row_size(gt.type, n_per_row) * size_t(nrows));
      type_info(gt.type).quantize(reinterpret_cast<const float*>(src->tensor_data(*s)), out.data(), nrows, n_per_row,
                                  w ? w->data() : nullptr);
      for (uint8_t b : out) {
        h ^= b;
        h *= 0x100000001b3ull;
      }
    }
    EXPECT_EQ(n_weighted, 14) << c.file;
    EXPECT_EQ(h, c.hash) << c.file << " with imatrix";
  }
}
