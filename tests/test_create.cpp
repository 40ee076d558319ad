// qinfer create: random-weight models of a named shape load, run, tokenize,
// and quantize as the types promise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/model/create.h"
#include "qinfer/model/model.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/runtime/generate.h"
#include "qinfer/tokenizer/unicode.h"
#include "qinfer/tokenizer/vocab.h"
#include "cli_runner.h"
#include "reference_forward.h"
#include "test_util.h"

namespace qinfer {
namespace {

CreateOptions small(const std::string& preset, TypeId type, uint64_t seed = 7) {
  CreateOptions o;
  o.shape = *find_preset(preset);
  o.type = type;
  o.seed = seed;
  o.n_threads = 2;
  return o;
}

// A qwen2-shaped model small enough for a float64 reference: biases, GQA, neox rope, BPE vocab.
CreateOptions tiny_qwen2(TypeId type) {
  CreateOptions o = small("qwen2-0.5b", type);
  o.shape.n_layer = 2;
  o.shape.n_embd = 64;
  o.shape.n_head = 4;
  o.shape.n_head_kv = 2;
  o.shape.n_ff = 96;
  o.shape.n_vocab = 1000;
  o.shape.n_ctx_train = 256;
  return o;
}

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Logits of the last prompt token.
std::vector<float> last_logits(const Model& m, const std::vector<int32_t>& prompt) {
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 2;
  Context ctx(m, cp);
  ctx.eval(prompt.data(), int(prompt.size()), false);
  const float* l = ctx.logits(int(prompt.size()) - 1);
  return {l, l + m.config.n_vocab};
}

double rel_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    n += double(b[i]) * b[i];
  }
  return std::sqrt(d / n);
}

TEST(Create, PresetsAreValidAndNamed) {
  ASSERT_GE(model_presets().size(), 4u);
  for (const ModelConfig& s : model_presets()) EXPECT_NO_THROW(validate_shape(s)) << s.name;
  const ModelConfig* tl = find_preset("tinyllama-1.1b");
  ASSERT_NE(tl, nullptr);
  EXPECT_EQ(tl->n_embd, 2048);
  EXPECT_EQ(tl->n_ff, 5632);
  EXPECT_EQ(tl->n_layer, 22);
  EXPECT_EQ(tl->n_head_kv, 4);
  const ModelConfig* qw = find_preset("qwen2-0.5b");
  ASSERT_NE(qw, nullptr);
  EXPECT_EQ(qw->arch, "qwen2");
  EXPECT_EQ(qw->n_vocab, 151936);
  EXPECT_EQ(find_preset("no-such-model"), nullptr);
}

TEST(Create, BadShapesAndTypesAreInputErrors) {
  const auto dir = test::scratch_dir();
  CreateOptions o = small("stories260k", TypeId::F16);
  o.shape.n_head = 7;  // 64 % 7 != 0
  EXPECT_THROW(create_model((dir / "a.gguf").string(), o), InputError);
  o = small("stories260k", TypeId::F16);
  o.shape.n_vocab = 100;  // smaller than the byte tokens
  EXPECT_THROW(create_model((dir / "b.gguf").string(), o), InputError);
  o = small("stories260k", TypeId::F16);
  o.shape.arch = "gpt-neox";
  EXPECT_THROW(create_model((dir / "c.gguf").string(), o), InputError);
  o = small("stories260k", TypeId::Q8_1);  // no llama.cpp file type
  EXPECT_THROW(create_model((dir / "d.gguf").string(), o), InputError);
  EXPECT_FALSE(std::filesystem::exists(dir / "a.gguf"));
}

TEST(Create, EveryTypeLoadsAndGenerates) {
  const auto dir = test::scratch_dir();
  for (TypeId type : {TypeId::F32, TypeId::F16, TypeId::BF16, TypeId::Q4_0, TypeId::Q4_1, TypeId::Q5_0,
                      TypeId::Q5_1, TypeId::Q8_0}) {
    const std::string name = type_info(type).name;
    SCOPED_TRACE(name);
    const auto path = (dir / (name + ".gguf")).string();
    int calls = 0;
    CreateOptions o = small("stories260k", type);
    o.progress = [&](const CreateProgress& p) {
      ++calls;
      EXPECT_LE(p.bytes_done, p.bytes_total);
    };
    const CreateStats st = create_model(path, o);
    EXPECT_EQ(calls, st.n_tensors);
    EXPECT_EQ(st.n_params, 260032);

    auto m = load_model(path);
    EXPECT_EQ(m->config.arch, "llama");
    EXPECT_EQ(m->config.n_layer, 5);
    EXPECT_EQ(m->config.n_head_kv, 4);
    EXPECT_EQ(m->tokenizer->n_vocab(), 512);
    EXPECT_EQ(m->output, m->tok_embd);  // stories260k shares the classifier
    EXPECT_EQ(m->layers[0].attn_norm->type, TypeId::F32);
    EXPECT_EQ(m->layers[0].wq->type, type);
    // ffn_down rows are n_ff = 172 long: not a multiple of 32, F16 as in llama-quantize.
    const bool blocked = type_info(type).block_size > 1;
    EXPECT_EQ(m->layers[0].ffn_down->type, blocked ? TypeId::F16 : type);
    EXPECT_EQ(st.n_fallback, blocked ? 5 : 0);

    ContextParams cp;
    cp.n_ctx = 64;
    cp.n_threads = 2;
    Context ctx(*m, cp);
    GenerateParams gp;
    gp.n_predict = 8;
    gp.sampling.temp = 0;
    std::vector<int32_t> out;
    const auto prompt = m->tokenizer->encode("Once upon a time", true, false);
    generate(ctx, prompt, gp, [&](int32_t id) {
      out.push_back(id);
      return true;
    });
    ASSERT_FALSE(out.empty());
    for (int32_t id : out) EXPECT_TRUE(id >= 0 && id < 512);
    for (int i = 0; i < m->config.n_vocab; ++i) ASSERT_TRUE(std::isfinite(ctx.logits(0)[i]));
  }
}

// Greedy output of a random model is text: the classifier rows of byte and
// special tokens are zero, so a server that parses its generations as UTF-8
// (llama-server) never fails on a benchmark model. Checked on a longer
// generation than any row could win by chance, for both vocabularies.
TEST(Create, GreedyOutputIsValidText) {
  const auto dir = test::scratch_dir();
  for (const CreateOptions& o : {small("stories260k", TypeId::Q8_0), tiny_qwen2(TypeId::F32)}) {
    SCOPED_TRACE(o.shape.arch);
    const auto path = (dir / (o.shape.arch + ".gguf")).string();
    create_model(path, o);
    auto m = load_model(path);
    const Tokenizer& tok = *m->tokenizer;
    std::vector<float> row(size_t(m->config.n_embd));
    const auto valid_utf8 = [](const std::string& t) {
      const auto d = unicode::decode_utf8(t);
      return std::find(d.cps.begin(), d.cps.end(), 0xFFFDu) == d.cps.end();
    };
    int silent = 0;
    for (int32_t id = 0; id < m->config.n_vocab; ++id) {
      // A token whose piece is not text on its own must never be the greedy choice.
      const std::string piece = tok.token_to_piece(id, false);
      if (tok.vocab().types[size_t(id)] == kTokNormal && !piece.empty() && valid_utf8(piece)) continue;
      ++silent;
      type_info(m->output->type).to_float(m->output->row(id), row.data(), m->config.n_embd);
      EXPECT_TRUE(std::all_of(row.begin(), row.end(), [](float x) { return x == 0.0f; }))
          << "token " << id << " '" << tok.vocab().tokens[size_t(id)] << "'";
    }
    EXPECT_GE(silent, 128);  // at least the bytes 0x80..0xFF
    ContextParams cp;
    cp.n_ctx = 256;
    cp.n_threads = 2;
    Context ctx(*m, cp);
    GenerateParams gp;
    gp.n_predict = 200;
    gp.sampling.temp = 0;
    std::vector<int32_t> out;
    generate(ctx, tok.encode("the quick brown fox", true, false), gp, [&](int32_t id) {
      out.push_back(id);
      return true;
    });
    std::string text;
    for (int32_t id : out) {
      EXPECT_NE(tok.vocab().types[size_t(id)], kTokByte) << id;
      text += tok.token_to_piece(id, false);
    }
    EXPECT_GT(out.size(), 100u);
    EXPECT_TRUE(valid_utf8(text)) << text;
  }
}

TEST(Create, QuantizedLogitsAreCloseToF32) {
  const auto dir = test::scratch_dir();
  std::map<TypeId, std::vector<float>> logits;
  std::vector<int32_t> prompt;
  for (TypeId type : {TypeId::F32, TypeId::F16, TypeId::Q8_0, TypeId::Q4_0}) {
    const auto path = (dir / (std::string(type_info(type).name) + ".gguf")).string();
    create_model(path, small("stories260k", type, 1234));
    auto m = load_model(path);
    if (prompt.empty()) prompt = m->tokenizer->encode("Once upon a time, there was a little girl", true, false);
    logits[type] = last_logits(*m, prompt);
  }
  // Errors relative to the F32 logits' RMS (seed 1234: F16 1.6e-3, Q8_0 3.1e-2, Q4_0 0.30). Per
  // weight Q8_0 errs ~0.5% and Q4_0 ~7% of the weights' scale; random weights through 5 layers
  // amplify that, the ratio between the types stays.
  const double e16 = rel_rms(logits[TypeId::F16], logits[TypeId::F32]);
  const double e8 = rel_rms(logits[TypeId::Q8_0], logits[TypeId::F32]);
  const double e4 = rel_rms(logits[TypeId::Q4_0], logits[TypeId::F32]);
  EXPECT_LT(e16, 0.01);
  EXPECT_LT(e8, 0.06);
  EXPECT_LT(e4, 0.5);
  EXPECT_LT(e8, e4);
  EXPECT_GT(e8, 0.0);  // the types really differ
  const auto& f = logits[TypeId::F32];
  const auto& q = logits[TypeId::Q8_0];
  EXPECT_EQ(std::max_element(f.begin(), f.end()) - f.begin(), std::max_element(q.begin(), q.end()) - q.begin());
}

TEST(Create, SameFileForAnyThreadCountSeedChangesWeights) {
  const auto dir = test::scratch_dir();
  CreateOptions o = small("stories260k", TypeId::Q4_0);
  o.n_threads = 1;
  create_model((dir / "t1.gguf").string(), o);
  o.n_threads = 3;
  create_model((dir / "t3.gguf").string(), o);
  o.seed = 8;
  create_model((dir / "s8.gguf").string(), o);
  const std::string a = read_bytes(dir / "t1.gguf"), b = read_bytes(dir / "t3.gguf"), c = read_bytes(dir / "s8.gguf");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

TEST(Create, MetadataIsWhatLlamaCppReads) {
  const auto dir = test::scratch_dir();
  const auto path = (dir / "m.gguf").string();
  CreateOptions o = small("tinyllama-1.1b", TypeId::Q8_0);
  o.shape.n_layer = 1;  // same keys, small file
  o.shape.n_embd = 128;
  o.shape.n_ff = 256;
  o.shape.n_head = 4;
  o.shape.n_head_kv = 2;
  create_model(path, o);
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("general.file_type", -1), 7);
  EXPECT_EQ(f->get_int("general.quantization_version", -1), 2);
  EXPECT_EQ(f->get_int("llama.context_length", -1), 2048);
  EXPECT_EQ(f->get_int("llama.rope.dimension_count", -1), 32);
  EXPECT_EQ(f->get_int("llama.vocab_size", -1), 32000);
  EXPECT_FLOAT_EQ(float(f->get_float("llama.attention.layer_norm_rms_epsilon", 0)), 1e-5f);
  EXPECT_EQ(f->tensors().size(), 1u + 9u + 2u);  // token_embd, one block, output_norm + output
  auto m = load_model(path);
  EXPECT_NE(m->output, m->tok_embd);
  const Tokenizer& tok = *m->tokenizer;
  EXPECT_EQ(tok.n_vocab(), 32000);
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_EQ(tok.vocab().types[3 + 10], kTokByte);  // <0x0A>
  EXPECT_EQ(tok.token_id("<0x0A>"), 13);
  // Letter pieces merge; anything else falls back to bytes; both round-trip.
  for (const char* text : {"once upon a time", "Hello, World! 123 \xC3\xA9t\xC3\xA9\n"}) {
    const auto ids = tok.encode(text, false, false);
    EXPECT_EQ(tok.decode(ids), text);
  }
  EXPECT_LE(tok.encode("once upon a time", false, false).size(), 8u);  // 16 bytes
}

TEST(Create, Qwen2ModelMatchesReferenceAndItsBpeVocabRoundTrips) {
  const auto dir = test::scratch_dir();
  const auto path = (dir / "qwen2.gguf").string();
  create_model(path, tiny_qwen2(TypeId::F32));
  auto m = load_model(path);
  EXPECT_EQ(m->config.arch, "qwen2");
  EXPECT_EQ(m->config.rope.layout, RopeLayout::Neox);
  ASSERT_NE(m->layers[1].bk, nullptr);
  const Tokenizer& tok = *m->tokenizer;
  EXPECT_EQ(tok.vocab().kind, VocabKind::kBpe);
  EXPECT_EQ(tok.vocab().pre, "qwen2");
  EXPECT_EQ(tok.n_vocab(), 1000);
  EXPECT_EQ(tok.token_id("<|endoftext|>"), 997);
  EXPECT_EQ(tok.eos(), 997);
  EXPECT_TRUE(tok.is_eog(tok.token_id("<|im_end|>")));
  for (const char* text : {"once upon a time", "Hello, World! 123 \xC3\xA9t\xC3\xA9\n"}) {
    const auto ids = tok.encode(text, false, false);
    EXPECT_EQ(tok.decode(ids), text);
  }
  const auto ids = tok.encode("once upon a time", false, false);
  EXPECT_LE(ids.size(), 10u);  // merges apply (16 bytes; 1000 tokens hold the 2-letter pieces)

  // The engine agrees with a float64 forward pass over the created weights.
  ContextParams cp;
  cp.n_ctx = 32;
  cp.n_threads = 2;
  Context ctx(*m, cp);
  test::ReferenceForward ref(*m);
  for (int32_t id : ids) {
    ctx.eval(&id, 1, false);
    const std::vector<double> want = ref.step(id);
    double err = 0, norm = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      err = std::max(err, std::abs(double(ctx.logits(0)[i]) - want[i]));
      norm = std::max(norm, std::abs(want[i]));
    }
    EXPECT_LT(err, 3e-3 * norm) << "position " << ctx.n_past() - 1;
  }
}

TEST(Create, CommandLine) {
  const auto dir = test::scratch_dir();
  const std::string out = (dir / "c.gguf").string();
  auto r = test::run_qinfer("create --preset stories260k --type q8_0 --layers 2 --seed 3 -t 2 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("output_norm.weight"), std::string::npos) << r.err;  // progress
  auto m = load_model(out);
  EXPECT_EQ(m->config.n_layer, 2);
  EXPECT_EQ(m->layers[0].wq->type, TypeId::Q8_0);

  r = test::run_qinfer("create --list-presets");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("tinyllama-1.1b"), std::string::npos);
  r = test::run_qinfer("create --preset no-such --type q8_0 -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown preset 'no-such'"), std::string::npos) << r.err;
  r = test::run_qinfer("create --preset stories260k --type q9_9 -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  r = test::run_qinfer("create --preset stories260k --heads 5 -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("n_head"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qinfer
