// qinfer quantize / imatrix against llama.cpp's own outputs in
// ../shared/data/golden: per-tensor types (the mixture rules), the bytes of
// every tensor, the importance matrix, and the error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "cli_runner.h"
#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
#include "qinfer/model/model.h"
#include "qinfer/quantize/imatrix_file.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/imatrix.h"
#include "qinfer/quantize/quantize_model.h"
#include "qinfer/quantize/tensor_policy.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace qinfer {
namespace {

const char* kTiny = "golden/tiny256/tiny256-F32.gguf";
const char* kStories = "models/stories260K/stories260K.gguf";

// Every tensor of `golden` must exist in `ours` with the same type, shape and
// bytes; prints the first differences.
void expect_same_tensors(const std::string& ours_path, const std::string& golden_path, bool compare_bytes = true) {
  auto ours = GgufFile::open(ours_path);
  auto golden = GgufFile::open(golden_path);
  ASSERT_EQ(ours->tensors().size(), golden->tensors().size());
  int type_diffs = 0, byte_diffs = 0;
  for (const GgufTensorInfo& g : golden->tensors()) {
    const GgufTensorInfo* o = ours->find_tensor(g.name);
    ASSERT_NE(o, nullptr) << g.name;
    EXPECT_EQ(o->shape_string(), g.shape_string()) << g.name;
    if (o->type != g.type) {
      if (++type_diffs <= 5)
        ADD_FAILURE() << g.name << ": type " << type_info(o->type).name << ", llama.cpp " << type_info(g.type).name;
      continue;
    }
    if (!compare_bytes) continue;
    ASSERT_EQ(o->nbytes, g.nbytes) << g.name;
    const uint8_t* a = ours->tensor_data(*o);
    const uint8_t* b = golden->tensor_data(g);
    if (std::memcmp(a, b, g.nbytes) != 0) {
      size_t first = 0;
      while (a[first] == b[first]) ++first;
      if (++byte_diffs <= 5)
        ADD_FAILURE() << g.name << " (" << type_info(g.type).name << "): bytes differ from byte " << first << " of "
                      << g.nbytes << " (ours " << int(a[first]) << ", llama.cpp " << int(b[first]) << ")";
    }
  }
  EXPECT_EQ(type_diffs, 0);
  EXPECT_EQ(byte_diffs, 0);
  EXPECT_EQ(ours->get_int("general.file_type", -1), golden->get_int("general.file_type", -2));
  EXPECT_EQ(ours->get_int("general.quantization_version", -1), 2);
}

QuantizeSummary quantize(const std::string& in, const fs::path& out, const std::string& type, QuantizeParams p = {}) {
  p.input = in;
  p.output = out.string();
  p.type = type;
  if (p.threads == 0) p.threads = 2;
  return quantize_model(p);
}

class Tiny256Golden : public ::testing::TestWithParam<const char*> {};

TEST_P(Tiny256Golden, TypesAndBytesMatchLlamaQuantize) {
  QINFER_REQUIRE_DATA(kTiny);
  const std::string type = GetParam();
  const fs::path out = test::scratch_dir() / ("tiny256-" + type + ".gguf");
  const QuantizeSummary s = quantize(test::data_path(kTiny), out, type);
  expect_same_tensors(out.string(), test::data_path("golden/tiny256/tiny256-" + type + ".gguf"));
  EXPECT_EQ(s.n_fallback, 0);  // every row of tiny256 is a multiple of 256
  // The whole file is llama-quantize's: metadata order and types, tensor
  // order, alignment padding.
  EXPECT_TRUE(test::slurp(out.string()) == test::slurp(test::data_path("golden/tiny256/tiny256-" + type + ".gguf")))
      << "tensors match but the files differ (metadata or layout)";
  fs::remove_all(out.parent_path());
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Tiny256Golden,
                         ::testing::Values("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                                           "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL"));

class Stories260KGolden : public ::testing::TestWithParam<const char*> {};

// The golden files hold the named type for every 2-D tensor with 64-wide rows
// and F16 for the 172-wide ffn_down rows (llama.cpp's last resort); the
// README's validation runs pass --output-tensor-type so output.weight keeps
// the file's type instead of Q6_K→Q8_0.
TEST_P(Stories260KGolden, FallbackToF16For172WideRows) {
  QINFER_REQUIRE_DATA(kStories);
  const std::string type = GetParam();
  const fs::path out = test::scratch_dir() / ("stories260K-" + type + ".gguf");
  QuantizeParams p;
  p.output_type = find_type(type)->id;
  const QuantizeSummary s = quantize(test::data_path(kStories), out, type, p);
  expect_same_tensors(out.string(), test::data_path("golden/stories260K/stories260K-" + type + ".gguf"));
  EXPECT_EQ(s.n_fallback, 5);  // the five ffn_down tensors
  fs::remove_all(out.parent_path());
}

INSTANTIATE_TEST_SUITE_P(LegacyTypes, Stories260KGolden, ::testing::Values("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"));

// Without overrides: output.weight wants Q6_K, whose 256-block does not fit
// 64-wide rows, so llama.cpp's fallback table gives Q8_0; k-quant mixes fall
// back per tensor (Q4_K → Q5_0 on 64 columns, Q6_K → Q8_0, and F16 for 172).
TEST(QuantizePolicy, Stories260KFallbackTable) {
  QINFER_REQUIRE_DATA(kStories);
  const fs::path dir = test::scratch_dir();
  quantize(test::data_path(kStories), dir / "q4km.gguf", "Q4_K_M");
  auto f = GgufFile::open((dir / "q4km.gguf").string());
  EXPECT_EQ(f->find_tensor("output.weight")->type, TypeId::Q8_0);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, TypeId::Q5_0);
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, TypeId::Q5_0);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->type, TypeId::F16);  // Q6_K (more bits) → Q8_0 → F16
  EXPECT_EQ(f->find_tensor("blk.2.ffn_down.weight")->type, TypeId::F16);  // Q4_K → Q5_0 → F16
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, TypeId::F32);
  fs::remove_all(dir);
}

// use_more_bits and the attn_v / ffn_down counters on a 32-layer shape:
// llama.cpp gives Q6_K to layers 0-3, 28-31 and every third in between.
TEST(QuantizePolicy, Q4KMUseMoreBitsOn32Layers) {
  ModelShape shape{"llama", 32, 32, 8};
  std::vector<std::string> names;
  for (int l = 0; l < 32; ++l) {
    names.push_back("blk." + std::to_string(l) + ".attn_v.weight");
    names.push_back("blk." + std::to_string(l) + ".ffn_down.weight");
  }
  TensorPolicy pol(*find_file_type("Q4_K_M"), shape, {}, names);
  std::string got;
  for (int l = 0; l < 32; ++l) {
    PolicyTensor v{"blk." + std::to_string(l) + ".attn_v.weight", {4096, 1024, 1, 1}, TypeId::F32};
    PolicyTensor d{"blk." + std::to_string(l) + ".ffn_down.weight", {11008, 4096, 1, 1}, TypeId::F32};
    const TypeId tv = pol.choose(v).type, td = pol.choose(d).type;
    EXPECT_EQ(tv, td) << l;
    got += tv == TypeId::Q6_K ? '6' : tv == TypeId::Q4_K ? '4' : '?';
  }
  // i < 4, i >= 28, or (i - 4) % 3 == 2.
  EXPECT_EQ(got, "66664464464464464464464464466666");
  EXPECT_EQ(pol.n_fallback(), 0);  // 11008 = 43 × 256
}

TEST(QuantizePolicy, TensorOrderIsLlamaLoaders) {
  EXPECT_TRUE(llama_tensor_less("output.weight", "blk.0.attn_q.weight"));
  EXPECT_TRUE(llama_tensor_less("blk.2.ffn_up.weight", "blk.10.attn_k.weight"));
  EXPECT_TRUE(llama_tensor_less("blk.3.attn_k.weight", "blk.3.attn_q.weight"));
}

TEST(QuantizeImatrix, GoldenImatrixGivesLlamaQuantizeBytes) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  for (const std::string type : {"Q4_K_M", "IQ4_NL"}) {
    SCOPED_TRACE(type);
    QuantizeParams p;
    p.imatrix = test::data_path("golden/tiny256/imatrix.dat");
    const QuantizeSummary s = quantize(test::data_path(kTiny), dir / "out.gguf", type, p);
    expect_same_tensors((dir / "out.gguf").string(), test::data_path("golden/tiny256/tiny256-" + type + "-imatrix.gguf"));
    int with_imatrix = 0;
    for (const auto& t : s.tensors) with_imatrix += t.used_imatrix;
    EXPECT_EQ(with_imatrix, 14);  // no entries for output / token_embd
    auto f = GgufFile::open((dir / "out.gguf").string());
    EXPECT_EQ(f->get_int("quantize.imatrix.entries_count", 0), 14);
    EXPECT_EQ(f->get_int("quantize.imatrix.chunks_count", 0), 50);
    EXPECT_EQ(f->get_string("quantize.imatrix.dataset"), "shared/data/text/tinystories-valid-a.txt");
  }
  fs::remove_all(dir);
}

// llama-imatrix -c 128 --chunks 50 on tinystories-valid-a.txt. Tolerance:
// the activations come from a different F32 forward pass (other summation
// orders in matmul, RMS norm, softmax), so each squared input differs by a
// few ulp of float; over 6400 float additions the sums agree to ~1e-5
// relative. 1e-3 leaves room and still catches any wrong input, token, BOS
// handling or ncall scaling (those change values by whole percent or more).
TEST(QuantizeImatrix, MatchesLlamaImatrix) {
  QINFER_REQUIRE_DATA(kTiny);
  QINFER_REQUIRE_DATA("text/tinystories-valid-a.txt");
  auto model = load_model(test::data_path(kTiny));
  const std::string text = test::slurp(test::data_path("text/tinystories-valid-a.txt"));
  ImatrixParams ip;
  ip.n_ctx = 128;
  ip.n_chunks = 50;
  ip.n_threads = 2;
  ImatrixCollector col;
  EXPECT_EQ(collect_imatrix(*model, model->tokenizer->encode(text, true, false), ip, col), 50);
  const fs::path dir = test::scratch_dir();
  col.write((dir / "imatrix.dat").string(), "shared/data/text/tinystories-valid-a.txt");

  const ImatrixFile ours = read_imatrix_file((dir / "imatrix.dat").string());
  const ImatrixFile gold = read_imatrix_file(test::data_path("golden/tiny256/imatrix.dat"));
  EXPECT_EQ(ours.last_call, gold.last_call);
  EXPECT_EQ(ours.dataset, gold.dataset);
  ASSERT_EQ(ours.entries.size(), gold.entries.size());
  double worst = 0;
  for (const auto& [name, g] : gold.entries) {
    const std::vector<float>* o = ours.find(name);
    ASSERT_NE(o, nullptr) << name;
    ASSERT_EQ(o->size(), g.size()) << name;
    for (size_t j = 0; j < g.size(); ++j) {
      const double rel = std::fabs((*o)[j] - g[j]) / std::fabs(g[j]);
      worst = std::max(worst, rel);
      ASSERT_LT(rel, 1e-3) << name << "[" << j << "]: ours " << (*o)[j] << ", llama.cpp " << g[j];
    }
  }
  std::printf("largest relative difference to llama-imatrix: %.3g\n", worst);
  // Byte-level: the same file size (same entries, nval, trailer).
  EXPECT_EQ(fs::file_size(dir / "imatrix.dat"), fs::file_size(test::data_path("golden/tiny256/imatrix.dat")));
  fs::remove_all(dir);
}

// A copy of tiny256 with one NaN in blk.1.ffn_up.weight.
std::string write_nan_model(const fs::path& dir) {
  auto src = GgufFile::open(test::data_path(kTiny));
  GgufWriter w;
  w.copy_metadata(*src);
  std::vector<float> bad;
  for (const GgufTensorInfo& t : src->tensors()) {
    if (t.name != "blk.1.ffn_up.weight") {
      w.add_tensor_from(*src, t);
      continue;
    }
    const float* x = reinterpret_cast<const float*>(src->tensor_data(t));
    bad.assign(x, x + t.n_elements());
    bad[1000] = std::numeric_limits<float>::quiet_NaN();
    w.add_tensor(t.name, t.type, {t.ne[0], t.ne[1]}, bad.data(), bad.size() * 4);
  }
  const std::string path = (dir / "nan.gguf").string();
  w.write(path);
  return path;
}

TEST(QuantizeErrors, NanWeightsFailAndLeaveNoFile) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  const std::string in = write_nan_model(dir);
  const fs::path out_dir = dir / "out";
  fs::create_directories(out_dir);
  try {
    quantize(in, out_dir / "q.gguf", "Q4_0");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blk.1.ffn_up.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
    EXPECT_NE(msg.find("row 3"), std::string::npos) << msg;  // element 1000 of 256-wide rows
  }
  // The error came mid-write (tensors before it were already streamed): the
  // temporary file must be gone and nothing must exist under the final name.
  EXPECT_TRUE(fs::is_empty(out_dir));
  fs::remove_all(dir);
}

// A copy of tiny256 with some metadata replaced (and the tensors kept unless
// with_tensors is false).
std::string write_variant(const fs::path& path, const std::function<void(GgufWriter&)>& edit, bool with_tensors = true) {
  auto src = GgufFile::open(test::data_path(kTiny));
  GgufWriter w;
  w.copy_metadata(*src);
  edit(w);
  if (with_tensors)
    for (const GgufTensorInfo& t : src->tensors()) w.add_tensor_from(*src, t);
  w.write(path.string());
  return path.string();
}

void expect_refused(const std::string& in, const fs::path& out, const std::string& needle) {
  try {
    quantize(in, out, "Q8_0");
    ADD_FAILURE() << in << ": no error, expected " << needle;
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(out)) << out;
}

// Files that load nowhere are refused before any work, instead of writing a
// quantized file that nothing can run.
TEST(QuantizeErrors, InputsNothingCanRunAreRefused) {
  QINFER_REQUIRE_DATA(kTiny);
  QINFER_REQUIRE_DATA("vocab/ggml-vocab-llama-spm.gguf");
  const fs::path dir = test::scratch_dir();
  const fs::path out = dir / "out" / "q.gguf";
  fs::create_directories(out.parent_path());
  expect_refused(test::data_path("vocab/ggml-vocab-llama-spm.gguf"), out, "nothing could run the output");
  expect_refused(write_variant(dir / "arch.gguf", [](GgufWriter& w) { w.set_string("general.architecture", "frob"); }),
                 out, "unsupported architecture 'frob'");
  expect_refused(write_variant(dir / "blocks0.gguf", [](GgufWriter& w) { w.set_uint32("llama.block_count", 0); }), out,
                 "block_count = 0");
  expect_refused(write_variant(dir / "noblocks.gguf", [](GgufWriter& w) { w.remove("llama.block_count"); }), out,
                 "llama.block_count");
  expect_refused(write_variant(dir / "heads0.gguf", [](GgufWriter& w) { w.set_uint32("llama.attention.head_count", 0); }),
                 out, "head_count = 0");
  expect_refused(write_variant(dir / "notensors.gguf", [](GgufWriter&) {}, false), out, "missing tensor");
  EXPECT_TRUE(fs::is_empty(out.parent_path()));
  fs::remove_all(dir);
}

// quantize IN IN (or through a symlink or a hard link) would replace the
// model being read; a directory as output would fail only at the final rename.
TEST(QuantizeErrors, OutputThatIsTheInputOrADirectoryIsRefusedFirst) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  const fs::path in = dir / "model.gguf";
  fs::copy_file(test::data_path(kTiny), in);
  const std::string before = test::slurp(in.string());
  fs::create_symlink(in, dir / "link.gguf");
  fs::create_hard_link(in, dir / "hard.gguf");
  for (const fs::path& out : {in, dir / "link.gguf", dir / "hard.gguf", dir / "." / "model.gguf"}) {
    try {
      quantize(in.string(), out, "Q8_0");
      ADD_FAILURE() << out << ": no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("is the input file itself"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(test::slurp(in.string()) == before) << "the input changed";
  fs::create_directories(dir / "outdir");
  try {
    quantize(in.string(), dir / "outdir", "Q8_0");
    ADD_FAILURE() << "no error for a directory";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir / "outdir"));
  // Nothing else was written beside them (no temporary file).
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 4);
  const test::CliResult r = test::run_qinfer("quantize " + in.string() + " " + in.string() + " Q8_0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  fs::remove_all(dir);
}

TEST(QuantizeErrors, UnwritableOutputIsOneLineNamingThePath) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  const fs::path out = dir / "missing-dir" / "q.gguf";
  try {
    quantize(test::data_path(kTiny), out, "Q8_0");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(out.string()), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

// A disk that fills up mid-write: RLIMIT_FSIZE stands in for it (with SIGXFSZ
// ignored, write() fails with EFBIG where a full disk gives ENOSPC).
TEST(QuantizeErrors, FullDiskIsOneLineAndLeavesNoFile) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  const fs::path out = dir / "out" / "q.gguf", err = dir / "err.txt";
  fs::create_directories(out.parent_path());
  const std::string cmd = "trap '' XFSZ; ulimit -f 64; " + std::string(QINFER_BINARY) + " quantize " +
                          test::data_path(kTiny) + " " + out.string() + " Q8_0 2>" + err.string() + " >/dev/null";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string msg = test::slurp(err.string());
  EXPECT_NE(msg.find(out.string()), std::string::npos) << msg;
  ASSERT_NE(msg.find("error: "), std::string::npos) << msg;
  const std::string error = msg.substr(msg.find("error: "));
  EXPECT_NE(error.find("cannot write"), std::string::npos) << msg;
  EXPECT_EQ(test::count_lines(error), 1) << msg;  // the last line; progress lines come before it
  EXPECT_TRUE(fs::is_empty(out.parent_path()));  // neither the final name nor the temporary file
  fs::remove_all(dir);
}

TEST(QuantizeErrors, UnknownTypeListsValidOnes) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  try {
    quantize(test::data_path(kTiny), dir / "q.gguf", "Q4_K_X");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("Q4_K_X"), std::string::npos) << msg;
    for (const char* t : {"Q4_0", "Q8_0", "Q2_K", "Q3_K_L", "Q4_K_M", "Q6_K", "IQ4_NL", "BF16"})
      EXPECT_NE(msg.find(t), std::string::npos) << t << " missing in: " << msg;
  }
  EXPECT_TRUE(fs::is_empty(dir));
  // Through the command line: exit code 2, one line.
  const test::CliResult r = test::run_qinfer("quantize " + test::data_path(kTiny) + " " + (dir / "q.gguf").string() + " Q9_9");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("valid types: Q4_0"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(QuantizeErrors, RequantizeNeedsFlag) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  quantize(test::data_path(kTiny), dir / "q8.gguf", "Q8_0");
  try {
    quantize((dir / "q8.gguf").string(), dir / "q4.gguf", "Q4_0");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--allow-requantize"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "q4.gguf"));
  QuantizeParams p;
  p.allow_requantize = true;
  quantize((dir / "q8.gguf").string(), dir / "q4.gguf", "Q4_0", p);
  auto f = GgufFile::open((dir / "q4.gguf").string());
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, TypeId::Q4_0);
  EXPECT_EQ(f->find_tensor("output.weight")->type, TypeId::Q6_K);
  // F16 input converts without the flag (it is not a quantized type).
  quantize(test::data_path(kTiny), dir / "f16.gguf", "F16");
  quantize((dir / "f16.gguf").string(), dir / "q4b.gguf", "Q4_0");
  fs::remove_all(dir);
}

TEST(QuantizeOptions, LeaveOutputPureAndOverrides) {
  QINFER_REQUIRE_DATA(kTiny);
  const fs::path dir = test::scratch_dir();
  QuantizeParams p;
  p.leave_output_tensor = true;
  p.token_embd_type = TypeId::Q8_0;
  quantize(test::data_path(kTiny), dir / "a.gguf", "Q4_K_M", p);
  auto a = GgufFile::open((dir / "a.gguf").string());
  EXPECT_EQ(a->find_tensor("output.weight")->type, TypeId::F32);
  EXPECT_EQ(a->find_tensor("token_embd.weight")->type, TypeId::Q8_0);
  EXPECT_EQ(a->find_tensor("blk.1.ffn_down.weight")->type, TypeId::Q6_K);

  QuantizeParams q;
  q.pure = true;
  q.output_type = TypeId::F16;
  quantize(test::data_path(kTiny), dir / "b.gguf", "Q4_K_M", q);
  auto b = GgufFile::open((dir / "b.gguf").string());
  EXPECT_EQ(b->find_tensor("output.weight")->type, TypeId::F16);
  for (const char* n : {"token_embd.weight", "blk.1.ffn_down.weight", "blk.1.attn_v.weight"})
    EXPECT_EQ(b->find_tensor(n)->type, TypeId::Q4_K) << n;
  EXPECT_EQ(b->find_tensor("blk.1.ffn_norm.weight")->type, TypeId::F32);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qinfer
