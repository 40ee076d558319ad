// qinfer's own types on a real model (stories260K): NF4, FP4, INT4 (+ double
// quantization) and LLM.int8 files, their layout in the GGUF, QLoRA's
// ordering on held-out text (NF4 ahead of FP4 and plain INT4), `qinfer info`
// marking them qinfer-only, and --load-in.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "cli_runner.h"
#include "qinfer/eval/perplexity.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/model/model.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/int8_rows.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/calibration.h"
#include "qinfer/quantize/quantize_model.h"
#include "qinfer/runtime/context.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace qinfer;

namespace {

const char* kStories = "models/stories260K/stories260K.gguf";
const char* kText = "text/tinystories-valid-a.txt";

QuantizeSummary quantize(const fs::path& out, const std::string& type, float threshold = 6.0f) {
  QuantizeParams p;
  p.input = test::data_path(kStories);
  p.output = out.string();
  p.type = type;
  p.threads = 1;
  p.int8_threshold = threshold;
  return quantize_model(p);
}

double heldout_ppl(const Model& m, int chunks = 30) {
  const TextSplit split = split_eval_text(test::slurp(test::data_path(kText)));
  const std::vector<int32_t> tokens = m.tokenizer->encode(split.evaluation, true, false);
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_batch = 128;
  cp.n_threads = 1;
  Context ctx(m, cp);
  PerplexityParams pp;
  pp.n_ctx = 128;
  pp.n_chunks = chunks;
  return perplexity(ctx, tokens, pp).ppl();
}

}  // namespace

TEST(BnbModels, FilesHoldTheLinearLayersOnly) {
  QINFER_REQUIRE_DATA(kStories);
  const fs::path dir = test::scratch_dir();
  quantize(dir / "nf4.gguf", "NF4");
  auto f = GgufFile::open((dir / "nf4.gguf").string());
  EXPECT_EQ(f->get_int("general.file_type", -1), 1024);
  for (const GgufTensorInfo& t : f->tensors()) {
    const std::string& n = t.name;
    if (n == "token_embd.weight" || n == "output.weight" || n.find("norm") != std::string::npos)
      EXPECT_EQ(t.type, TypeId::F32) << n;  // as transformers' load_in_4bit: embedding and classifier stay
    else if (n.find("ffn_down") != std::string::npos)
      EXPECT_EQ(t.type, TypeId::F16) << n;  // 172-wide rows: not a multiple of 64
    else
      EXPECT_EQ(t.type, TypeId::NF4) << n;
  }
  // Double quantization: 33-byte blocks and a companion state per tensor.
  const QuantizeSummary dq = quantize(dir / "nf4dq.gguf", "NF4+DQ");
  auto g = GgufFile::open((dir / "nf4dq.gguf").string());
  const GgufTensorInfo* q = g->find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, TypeId::NF4_DQ);
  EXPECT_EQ(q->nbytes, uint64_t(64 * 33));
  const GgufTensorInfo* st = g->find_tensor(double_quant_state_name("blk.0.attn_q.weight"));
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->type, TypeId::F32);
  EXPECT_EQ(st->n_elements(), double_quant_state_size(64));
  EXPECT_LT(fs::file_size(dir / "nf4dq.gguf"), fs::file_size(dir / "nf4.gguf"));
  // Loaded, a double-quantized tensor is NF4 again, its absmax within half the
  // dynamic map's widest step (0.0141) of its group's scale from the plain file's.
  auto plain = load_model((dir / "nf4.gguf").string());
  auto expanded = load_model((dir / "nf4dq.gguf").string());
  const Tensor* a = plain->layers[2].ffn_gate;
  const Tensor* b = expanded->layers[2].ffn_gate;
  ASSERT_EQ(b->type, TypeId::NF4);
  ASSERT_EQ(a->nbytes, b->nbytes);
  const auto* ba = reinterpret_cast<const BlockBnb4*>(a->data);
  const auto* bb = reinterpret_cast<const BlockBnb4*>(b->data);
  const GgufTensorInfo* gs = g->find_tensor(double_quant_state_name("blk.2.ffn_gate.weight"));
  const float* state = reinterpret_cast<const float*>(g->tensor_data(*gs));
  for (size_t i = 0; i < a->nbytes / sizeof(BlockBnb4); ++i) {
    EXPECT_EQ(std::memcmp(ba[i].qs, bb[i].qs, 32), 0);
    EXPECT_NEAR(bb[i].absmax, ba[i].absmax, 0.00705 * state[1 + i / 256] + 1e-7) << i;
  }
}

// QLoRA Table 2's ordering: NF4 ahead of FP4 and plain INT4 at the same block
// size; double quantization costs next to nothing; LLM.int8 is near F32.
TEST(BnbModels, QualityOrderingOnHeldOutText) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kText);
  const fs::path dir = test::scratch_dir();
  std::map<std::string, double> ppl;
  for (const char* t : {"NF4", "FP4", "INT4", "NF4_DQ", "INT8"}) {
    quantize(dir / (std::string(t) + ".gguf"), t);
    ppl[t] = heldout_ppl(*load_model((dir / (std::string(t) + ".gguf")).string()));
  }
  const double f32 = heldout_ppl(*load_model(test::data_path(kStories)));
  std::printf("  held-out PPL (30 chunks): F32 %.4f NF4 %.4f NF4+DQ %.4f FP4 %.4f INT4 %.4f INT8 %.4f\n", f32, ppl["NF4"],
              ppl["NF4_DQ"], ppl["FP4"], ppl["INT4"], ppl["INT8"]);
  EXPECT_LT(ppl["NF4"], ppl["FP4"]);
  EXPECT_LT(ppl["NF4"], ppl["INT4"]);
  EXPECT_NEAR(ppl["NF4_DQ"], ppl["NF4"], 0.01 * ppl["NF4"]);
  EXPECT_LT(ppl["INT8"], f32 * 1.01);
  EXPECT_GT(ppl["NF4"], f32);
}

TEST(BnbModels, Int8ThresholdIsStored) {
  QINFER_REQUIRE_DATA(kStories);
  const fs::path dir = test::scratch_dir();
  quantize(dir / "int8.gguf", "INT8", 4.5f);
  auto f = GgufFile::open((dir / "int8.gguf").string());
  EXPECT_FLOAT_EQ(float(f->get_float("qinfer.int8.threshold", 0)), 4.5f);
  const GgufTensorInfo* t = f->find_tensor("blk.1.attn_v.weight");
  ASSERT_EQ(t->type, TypeId::INT8);
  EXPECT_EQ(t->nbytes, uint64_t(t->ne[1]) * (8 + uint64_t(t->ne[0])));
  Int8RowHeader h;
  std::memcpy(&h, f->tensor_data(*t), sizeof h);
  EXPECT_FLOAT_EQ(h.threshold, 4.5f);
}

TEST(BnbModels, CommandLine) {
  QINFER_REQUIRE_DATA(kStories);
  const fs::path dir = test::scratch_dir();
  const std::string in = test::data_path(kStories), out = (dir / "m.gguf").string();
  test::CliResult q = test::run_qinfer("quantize " + in + " " + out + " --method nf4 --double-quant -t 1");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find("qinfer-only"), std::string::npos) << q.out;
  test::CliResult info = test::run_qinfer("info " + out + " --no-tensors");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("qinfer-only"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("llama.cpp will not load"), std::string::npos) << info.out;
  test::CliResult plain = test::run_qinfer("info " + in + " --no-tensors");
  EXPECT_EQ(plain.out.find("qinfer-only"), std::string::npos);
  // The double-quantized file runs.
  test::CliResult run = test::run_qinfer("run -m " + out + " -p \"Once upon a time\" -n 8 --temp 0 -t 1");
  EXPECT_EQ(run.exit_code, 0) << run.err;

  for (const char* bits : {"4bit", "8bit", "bf16"}) {
    test::CliResult r = test::run_qinfer("run -m " + in + " --load-in " + std::string(bits) +
                                         " -p \"Once upon a time\" -n 8 --temp 0 -t 1");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("MiB saved"), std::string::npos) << r.err;
    EXPECT_GT(r.out.size(), std::string("Once upon a time").size()) << r.out;
  }
  test::CliResult bad = test::run_qinfer("run -m " + in + " --load-in 3bit -p x -n 1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(test::count_lines(bad.err), 1) << bad.err;
}

// --load-in quantizes exactly what `quantize NF4` writes.
TEST(BnbModels, LoadInMatchesTheQuantizedFile) {
  QINFER_REQUIRE_DATA(kStories);
  const fs::path dir = test::scratch_dir();
  quantize(dir / "nf4.gguf", "NF4");
  auto file = load_model((dir / "nf4.gguf").string());
  LoadOptions lo;
  lo.load_in = LoadIn::Nf4;
  auto loaded = load_model(test::data_path(kStories), lo);
  EXPECT_EQ(loaded->load_in.converted, 6 * 5);  // q, k, v, o, gate, up of 5 layers (ffn_down's rows do not fit)
  EXPECT_EQ(loaded->load_in.skipped, 5);
  EXPECT_LT(loaded->load_in.bytes_after, loaded->load_in.bytes_before / 7);
  for (int l = 0; l < 5; ++l) {
    const Tensor* a = file->layers[size_t(l)].wq;
    const Tensor* b = loaded->layers[size_t(l)].wq;
    ASSERT_EQ(b->type, TypeId::NF4);
    ASSERT_EQ(a->nbytes, b->nbytes);
    EXPECT_EQ(std::memcmp(a->data, b->data, a->nbytes), 0);
  }
}

// --load-in bf16 rounds every linear layer (ffn_down's 172-wide rows too: BF16
// has no blocks) to what `quantize BF16` would write, and leaves the rest.
TEST(BnbModels, LoadInBf16RoundsTheLinearLayers) {
  QINFER_REQUIRE_DATA(kStories);
  auto f32 = load_model(test::data_path(kStories));
  LoadOptions lo;
  lo.load_in = LoadIn::Bf16;
  auto loaded = load_model(test::data_path(kStories), lo);
  EXPECT_EQ(loaded->load_in.converted, 7 * 5);
  EXPECT_EQ(loaded->load_in.skipped, 0);
  EXPECT_EQ(loaded->load_in.bytes_after * 2, loaded->load_in.bytes_before);
  EXPECT_EQ(loaded->tok_embd->type, TypeId::F32);
  // Stored runs tell the conversion apart from the file as it is.
  EXPECT_EQ(file_type_name(*loaded), file_type_name(*f32) + ", loaded as BF16");
  for (int l = 0; l < 5; ++l) {
    const Tensor* a = f32->layers[size_t(l)].ffn_down;
    const Tensor* b = loaded->layers[size_t(l)].ffn_down;
    ASSERT_EQ(b->type, TypeId::BF16);
    std::vector<uint8_t> want(b->nbytes);
    type_info(TypeId::BF16).from_float(reinterpret_cast<const float*>(a->data), want.data(), a->ne[0] * a->rows());
    EXPECT_EQ(std::memcmp(want.data(), b->data, b->nbytes), 0) << "layer " << l;
  }
}
