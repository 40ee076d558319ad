// qinfer convert: Hugging Face checkpoints written here from stories260K.gguf
// (with q/k rows in HF's rotate-half order) and a Qwen2-shaped model with
// GPT-2's byte-level BPE must convert back to GGUFs that run, tokenize and
// compute exactly like the originals; hostile inputs give one-line errors and
// leave no output file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <unordered_map>

#include "cli_runner.h"
#include "qinfer/convert/convert.h"
#include "qinfer/convert/hf_vocab.h"
#include "qinfer/convert/spm_model.h"
#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
#include "qinfer/formats/safetensors.h"
#include "qinfer/model/model.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/runtime/context.h"
#include "qinfer/runtime/generate.h"
#include "greedy.h"
#include "test_util.h"

using namespace qinfer;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

const char* const kStories = "models/stories260K/stories260K.gguf";
const char* const kTok512 = "models/stories260K/tok512.model";

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
void write_json(const fs::path& p, const json& j) { write_text(p, j.dump(1)); }

std::vector<uint8_t> encode(const float* x, size_t n, StDtype dt) {
  std::vector<uint8_t> out(n * st_dtype_size(dt));
  for (size_t i = 0; i < n; ++i) {
    if (dt == StDtype::F32) {
      std::memcpy(&out[4 * i], &x[i], 4);
    } else {
      const uint16_t h = dt == StDtype::F16 ? f32_to_fp16(x[i]) : f32_to_bf16(x[i]);
      std::memcpy(&out[2 * i], &h, 2);
    }
  }
  return out;
}

// GGUF name → Hugging Face name (the inverse of the converter's table).
std::string hf_name(const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  static const std::pair<const char*, const char*> parts[] = {
      {"attn_q", "self_attn.q_proj"}, {"attn_k", "self_attn.k_proj"}, {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"}, {"ffn_gate", "mlp.gate_proj"}, {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"}, {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"}};
  const size_t a = g.find('.', 4), b = g.rfind('.');
  const std::string layer = g.substr(4, a - 4), part = g.substr(a + 1, b - a - 1), suffix = g.substr(b);
  for (const auto& [gp, hp] : parts)
    if (part == gp) return "model.layers." + layer + "." + hp + suffix;
  ADD_FAILURE() << "no HF name for " << g;
  return g;
}

// HF keeps q/k rows per head as [first halves..., second halves...]; GGUF
// interleaves them: HF row h·hd + j·hd/2 + i holds GGUF row h·hd + 2i + j.
std::vector<float> to_hf_rows(const float* x, int64_t rows, int64_t cols, int64_t n_head) {
  std::vector<float> out(size_t(rows * cols));
  const int64_t hd = rows / n_head, half = hd / 2;
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(&out[size_t((h * hd + j * half + i) * cols)], &x[size_t((h * hd + 2 * i + j) * cols)],
                    size_t(cols) * 4);
  return out;
}

void write_shards(const fs::path& dir, std::vector<StTensorOut> ts, bool sharded) {
  if (!sharded) return write_safetensors((dir / "model.safetensors").string(), ts);
  json wm = json::object();
  const size_t cut = ts.size() / 2;
  std::vector<StTensorOut> a(ts.begin(), ts.begin() + long(cut)), b(ts.begin() + long(cut), ts.end());
  for (size_t i = 0; i < ts.size(); ++i)
    wm[ts[i].name] = i < cut ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  write_safetensors((dir / "model-00001-of-00002.safetensors").string(), a);
  write_safetensors((dir / "model-00002-of-00002.safetensors").string(), b);
  write_json(dir / "model.safetensors.index.json", {{"metadata", {{"total_size", 0}}}, {"weight_map", wm}});
}

// stories260K.gguf as a Hugging Face LlamaForCausalLM checkpoint.
fs::path write_stories_hf(const fs::path& dir, StDtype dt, bool sharded) {
  fs::create_directories(dir);
  auto g = GgufFile::open(test::data_path(kStories));
  const int64_t n_head = g->require_int("llama.attention.head_count");
  const int64_t n_kv = g->require_int("llama.attention.head_count_kv");
  std::vector<StTensorOut> ts;
  for (const auto& t : g->tensors()) {
    const float* x = reinterpret_cast<const float*>(g->tensor_data(t));
    std::vector<float> v(x, x + t.n_elements());
    const bool q = t.name.find("attn_q.") != std::string::npos, k = t.name.find("attn_k.") != std::string::npos;
    if (q || k) v = to_hf_rows(x, t.ne[1], t.ne[0], q ? n_head : n_kv);
    StTensorOut o{hf_name(t.name), dt, {}, encode(v.data(), v.size(), dt)};
    for (int d = int(t.n_dims) - 1; d >= 0; --d) o.shape.push_back(t.ne[d]);
    ts.push_back(std::move(o));
  }
  write_shards(dir, std::move(ts), sharded);
  write_json(dir / "config.json",
             {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 64},
              {"intermediate_size", 172}, {"num_attention_heads", n_head}, {"num_key_value_heads", n_kv},
              {"num_hidden_layers", 5}, {"vocab_size", 512}, {"max_position_embeddings", 2048},
              {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"bos_token_id", 1}, {"eos_token_id", 2},
              {"tie_word_embeddings", false}, {"torch_dtype", "float32"}});
  fs::copy_file(test::data_path(kTok512), dir / "tokenizer.model");
  return dir;
}

std::string convert(const fs::path& dir, const std::string& outtype) {
  ConvertParams p;
  p.input_dir = dir.string();
  p.output = (dir.parent_path() / (dir.filename().string() + "-" + outtype + ".gguf")).string();
  p.outtype = outtype;
  convert_hf(p);
  return p.output;
}

std::vector<int32_t> greedy(const Model& m, const std::string& prompt, int n) {
  return test::greedy_tokens(m, m.tokenizer->encode(prompt, true, false), n);
}

const std::vector<std::string> kTexts = {"Once upon a time", "Hello world", "  two leading spaces",
                                         "Lily's cat was 3 years old.\nThe end", "\xC3\xBCnic\xC3\xB6" "de \xF0\x9F\x9A\x80"};
const std::vector<std::string> kPrompts = {"Once upon a time", "The little dog", "Tom and Lily went"};

void expect_same_model(const Model& want, const Model& got, bool compare_logits) {
  for (const auto& s : kTexts) EXPECT_EQ(want.tokenizer->encode(s, true, false), got.tokenizer->encode(s, true, false)) << s;
  for (const auto& p : kPrompts) EXPECT_EQ(greedy(want, p, 24), greedy(got, p, 24)) << p;
  if (!compare_logits) return;
  const auto toks = want.tokenizer->encode("Once upon a time there was a girl", true, false);
  Context a(want, ContextParams{64, 512, 1, nullptr}), b(got, ContextParams{64, 512, 1, nullptr});
  a.eval(toks.data(), int(toks.size()), true);
  b.eval(toks.data(), int(toks.size()), true);
  for (int i = 0; i < int(toks.size()); ++i)
    for (int v = 0; v < want.config.n_vocab; ++v)
      ASSERT_NEAR(a.logits(i)[v], b.logits(i)[v], 1e-5f) << "token " << i << " vocab " << v;
}

// llama.cpp's test vectors for `vocab_rel` (.inp texts, .out ids from HF's tokenizer), without specials.
void expect_vocab_vectors(const Tokenizer& tok, const std::string& vocab_rel) {
  std::stringstream inp, outs;
  inp << std::ifstream(test::data_path(vocab_rel + ".inp")).rdbuf();
  outs << std::ifstream(test::data_path(vocab_rel + ".out")).rdbuf();
  const std::string raw = inp.str(), sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    inputs.push_back(raw.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    pos = next == std::string::npos ? raw.size() : next + sep.size();
  }
  std::string line;
  size_t i = 0;
  for (; std::getline(outs, line) && i < inputs.size(); ++i) {
    std::vector<int32_t> want;
    std::istringstream is(line);
    for (int32_t id; is >> id;) want.push_back(id);
    EXPECT_EQ(tok.encode(inputs[i], false, false), want) << "input " << i << " '" << inputs[i] << "'";
  }
  EXPECT_EQ(i, inputs.size());
}

size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

// HF LlamaConverter's merges: every split of a piece (at a character boundary)
// into two pieces of the vocabulary, pieces by score, best first, ties in id
// order; the splits of one piece by the ids of their parts.
json llama_converter_merges(const std::vector<std::string>& pieces, const std::vector<float>& scores, bool as_pairs) {
  std::unordered_map<std::string, int> id;
  for (size_t i = 0; i < pieces.size(); ++i) id.emplace(pieces[i], int(i));
  struct Merge {
    float score;
    int l, r;
  };
  std::vector<Merge> all;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string& p = pieces[i];
    std::vector<Merge> local;
    for (size_t k = utf8_len(uint8_t(p[0])); k < p.size(); k += utf8_len(uint8_t(p[k]))) {
      auto l = id.find(p.substr(0, k)), r = id.find(p.substr(k));
      if (l != id.end() && r != id.end()) local.push_back({scores[i], l->second, r->second});
    }
    std::sort(local.begin(), local.end(),
              [](const Merge& a, const Merge& b) { return std::pair(a.l, a.r) < std::pair(b.l, b.r); });
    all.insert(all.end(), local.begin(), local.end());
  }
  std::stable_sort(all.begin(), all.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  json merges = json::array();
  for (const Merge& m : all) {
    if (as_pairs) merges.push_back({pieces[size_t(m.l)], pieces[size_t(m.r)]});
    else merges.push_back(pieces[size_t(m.l)] + " " + pieces[size_t(m.r)]);
  }
  return merges;
}

// tokenizer.json as HF saves a Llama 2 tokenizer: byte_fallback BPE, unknown
// and control pieces as special added tokens; `legacy`: spaces become '▁' in a
// Prepend + Replace normalizer with "a b" merges, else in a Metaspace
// pre-tokenizer with ["a", "b"] merges (transformers >= 4.45).
json spm_tokenizer_json(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                        const std::vector<int32_t>& types, bool legacy) {
  const std::string sp = "\xE2\x96\x81";
  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < pieces.size(); ++i) {
    vocab[pieces[i]] = i;
    if (types[i] == kTokUnknown || types[i] == kTokControl)
      added.push_back({{"id", i}, {"content", pieces[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  json normalizer = nullptr, pre = nullptr;
  if (legacy)
    normalizer = {{"type", "Sequence"},
                  {"normalizers", {{{"type", "Prepend"}, {"prepend", sp}},
                                   {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", sp}}}}};
  else
    pre = {{"type", "Metaspace"}, {"replacement", sp}, {"prepend_scheme", "first"}, {"split", false}};
  const json decoder = {{"type", "Sequence"},
                        {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", sp}}}, {"content", " "}},
                                      {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  return {{"version", "1.0"}, {"added_tokens", added}, {"normalizer", normalizer}, {"pre_tokenizer", pre},
          {"decoder", decoder},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
            {"vocab", vocab}, {"merges", llama_converter_merges(pieces, scores, !legacy)}}}};
}

// tokenizer.json for tok512.model (SentencePiece's piece types are GGUF's numbers).
json stories_tokenizer_json(bool legacy) {
  const SpmModel spm = read_spm_model(test::data_path(kTok512));
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const SpmPiece& p : spm.pieces) {
    pieces.push_back(p.piece);
    scores.push_back(p.score);
    types.push_back(p.type);
  }
  return spm_tokenizer_json(pieces, scores, types, legacy);
}

// The pieces our SPM tokenizer can produce by joining two symbols (normal,
// more than one character) must keep the reference's score order: that order
// is the merge order.
void expect_same_merge_order(const VocabData& want, const VocabData& got) {
  std::vector<size_t> ids;
  for (size_t i = 0; i < want.size(); ++i)
    if (want.types[i] == kTokNormal && utf8_len(uint8_t(want.tokens[i][0])) < want.tokens[i].size()) ids.push_back(i);
  std::stable_sort(ids.begin(), ids.end(), [&](size_t a, size_t b) { return want.scores[a] > want.scores[b]; });
  ASSERT_GT(ids.size(), 100u);
  for (size_t k = 1; k < ids.size(); ++k) {
    if (want.scores[ids[k - 1]] > want.scores[ids[k]]) {
      ASSERT_GT(got.scores[ids[k - 1]], got.scores[ids[k]]) << want.tokens[ids[k - 1]] << " vs " << want.tokens[ids[k]];
    }
  }
}

void expect_no_output(const fs::path& out) {
  EXPECT_FALSE(fs::exists(out)) << out;
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

// convert_hf must fail with an InputError whose one line contains every `needle`.
void expect_error(const fs::path& dir, std::initializer_list<std::string> needles, const std::string& outtype = "f32") {
  const fs::path out = dir.parent_path() / "out.gguf";
  ConvertParams p{dir.string(), out.string(), outtype, ""};
  try {
    convert_hf(p);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
  expect_no_output(out);
}

}  // namespace

TEST(Convert, StoriesF32RoundTripsExactly) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  const fs::path dir = write_stories_hf(test::scratch_dir() / "stories", StDtype::F32, false);
  const std::string out = convert(dir, "f32");
  auto want = load_model(test::data_path(kStories));
  auto got = load_model(out);
  // Every weight, q/k un-permuted, bit for bit.
  for (const auto& t : want->tensors) {
    const Tensor* c = got->find(t.name);
    ASSERT_TRUE(c) << t.name;
    ASSERT_EQ(c->type, TypeId::F32) << t.name;
    ASSERT_EQ(c->nbytes, t.nbytes) << t.name;
    EXPECT_EQ(std::memcmp(c->data, t.data, t.nbytes), 0) << t.name;
  }
  EXPECT_EQ(got->tensors.size(), want->tensors.size());
  EXPECT_EQ(got->tokenizer->vocab().tokens, want->tokenizer->vocab().tokens);
  EXPECT_EQ(got->tokenizer->vocab().types, want->tokenizer->vocab().types);
  expect_same_model(*want, *got, true);

  auto g = GgufFile::open(out);
  EXPECT_EQ(g->get_string("general.architecture"), "llama");
  EXPECT_EQ(g->get_int("general.file_type", -1), 0);
  EXPECT_EQ(g->get_int("llama.vocab_size", -1), 512);
  EXPECT_EQ(g->get_int("llama.rope.dimension_count", -1), 8);
  EXPECT_EQ(g->get_int("llama.attention.head_count_kv", -1), 4);
  EXPECT_EQ(g->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(g->get_string("tokenizer.ggml.pre"), "default");
  EXPECT_EQ(g->get_int("tokenizer.ggml.bos_token_id", -1), 1);
  EXPECT_EQ(g->get_int("tokenizer.ggml.eos_token_id", -1), 2);
  EXPECT_EQ(g->get_int("general.quantization_version", -1), 2);
  // For the manual llama.cpp check (llama-simple on the converted file): keep the files.
  if (const char* keep = std::getenv("QINFER_CONVERT_KEEP_DIR")) {
    fs::create_directories(keep);
    fs::copy(dir, fs::path(keep) / "stories-hf", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    fs::copy_file(out, fs::path(keep) / "stories-converted-f32.gguf", fs::copy_options::overwrite_existing);
  }
}

TEST(Convert, ShardedHalfPrecisionCheckpoints) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  auto want = load_model(test::data_path(kStories));
  for (StDtype dt : {StDtype::F16, StDtype::BF16}) {
    SCOPED_TRACE(st_dtype_name(dt));
    const fs::path dir = write_stories_hf(test::scratch_dir() / st_dtype_name(dt), dt, true);
    const std::string out = convert(dir, dt == StDtype::F16 ? "f16" : "bf16");
    auto got = load_model(out);
    const TypeId want_type = dt == StDtype::F16 ? TypeId::F16 : TypeId::BF16;
    for (const auto& t : want->tensors) {
      const Tensor* c = got->find(t.name);
      ASSERT_TRUE(c) << t.name;
      const float* x = reinterpret_cast<const float*>(t.data);
      const bool is_1d = t.ne[1] == 1;  // norms stay F32 (bind_weights converted them)
      EXPECT_EQ(c->type, is_1d ? TypeId::F32 : want_type) << t.name;
      // The stored values are the originals rounded once to the shard's type.
      std::vector<float> back(size_t(t.n_elements()));
      type_info(c->type).to_float(c->data, back.data(), t.n_elements());
      for (int64_t i = 0; i < t.n_elements(); ++i) {
        const float r = dt == StDtype::F16 ? fp16_to_f32(f32_to_fp16(x[i])) : bf16_to_f32(f32_to_bf16(x[i]));
        ASSERT_EQ(back[size_t(i)], r) << t.name << "[" << i << "]";
      }
    }
    // Tokenizer identical; half-precision weights give the same greedy text on this model.
    expect_same_model(*want, *got, false);
    EXPECT_EQ(GgufFile::open(out)->get_int("general.file_type", -1), dt == StDtype::F16 ? 1 : 32);
  }
}

TEST(Convert, Q8_0UsesTheRegistryQuantizerAndF16Fallback) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  const fs::path dir = write_stories_hf(test::scratch_dir() / "q8", StDtype::F32, false);
  auto g = GgufFile::open(convert(dir, "q8_0"));
  auto src = GgufFile::open(test::data_path(kStories));
  EXPECT_EQ(g->get_int("general.file_type", -1), 7);
  for (const auto& t : src->tensors()) {
    const GgufTensorInfo* c = g->find_tensor(t.name);
    ASSERT_TRUE(c) << t.name;
    // 1-D stays F32; ffn_down rows (172) are not whole Q8_0 blocks → F16, as gguf-py falls back.
    const TypeId want = t.n_dims == 1 ? TypeId::F32 : (t.ne[0] % 32 ? TypeId::F16 : TypeId::Q8_0);
    ASSERT_EQ(c->type, want) << t.name;
    std::vector<uint8_t> expect(c->nbytes);
    const float* x = reinterpret_cast<const float*>(src->tensor_data(t));
    if (want == TypeId::Q8_0) type_info(want).quantize(x, expect.data(), t.ne[1], t.ne[0], nullptr);
    else if (want == TypeId::F16) type_info(want).from_float(x, expect.data(), t.n_elements());
    else std::memcpy(expect.data(), x, c->nbytes);
    EXPECT_EQ(std::memcmp(expect.data(), g->tensor_data(*c), c->nbytes), 0) << t.name;
  }
}

// A Qwen2-shaped checkpoint (biases, tied embeddings, GQA) with GPT-2's byte-level BPE as tokenizer.json.
TEST(Convert, Qwen2WithByteLevelBpe) {
  const std::string vocab_rel = "vocab/ggml-vocab-gpt-2.gguf";
  QINFER_REQUIRE_DATA(vocab_rel + ".inp");
  auto vg = GgufFile::open(test::data_path(vocab_rel));
  const auto tokens = vg->find("tokenizer.ggml.tokens")->as_string_array();
  const auto merges = vg->find("tokenizer.ggml.merges")->as_string_array();
  const fs::path dir = test::scratch_dir() / "qwen2";
  fs::create_directories(dir);
  json vocab = json::object(), mlist = json::array(), added = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  for (const auto& m : merges) mlist.push_back({m.substr(0, m.find(' ')), m.substr(m.find(' ') + 1)});
  added.push_back({{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}});
  write_json(dir / "tokenizer.json",
             {{"version", "1.0"}, {"added_tokens", added}, {"normalizer", nullptr},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", mlist}}}});
  write_json(dir / "tokenizer_config.json", {{"add_bos_token", false}, {"bos_token", nullptr},
                                              {"eos_token", "<|endoftext|>"}, {"chat_template", "{{ messages }}"}});
  const int64_t V = int64_t(tokens.size()), E = 16, H = 2, KV = 1, HD = 8, F = 32;
  write_json(dir / "config.json", {{"architectures", {"Qwen2ForCausalLM"}}, {"hidden_size", E}, {"intermediate_size", F},
                                   {"num_attention_heads", H}, {"num_key_value_heads", KV}, {"num_hidden_layers", 1},
                                   {"vocab_size", V}, {"max_position_embeddings", 512}, {"rope_theta", 1000000.0},
                                   {"rms_norm_eps", 1e-6}, {"tie_word_embeddings", true}, {"bos_token_id", 50256}});
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  std::vector<StTensorOut> ts;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = shape.size() == 1 && name.find("norm") != std::string::npos ? 1.0f + nd(rng) * 0.1f : nd(rng);
    ts.push_back({name, StDtype::F32, shape, encode(v.data(), v.size(), StDtype::F32)});
  };
  add("model.embed_tokens.weight", {V, E});
  add("model.norm.weight", {E});
  const std::string L = "model.layers.0.";
  add(L + "self_attn.q_proj.weight", {H * HD, E});
  add(L + "self_attn.q_proj.bias", {H * HD});
  add(L + "self_attn.k_proj.weight", {KV * HD, E});
  add(L + "self_attn.k_proj.bias", {KV * HD});
  add(L + "self_attn.v_proj.weight", {KV * HD, E});
  add(L + "self_attn.v_proj.bias", {KV * HD});
  add(L + "self_attn.o_proj.weight", {E, H * HD});
  add(L + "self_attn.rotary_emb.inv_freq", {HD / 2});  // dropped, as llama.cpp does
  add(L + "mlp.gate_proj.weight", {F, E});
  add(L + "mlp.up_proj.weight", {F, E});
  add(L + "mlp.down_proj.weight", {E, F});
  add(L + "input_layernorm.weight", {E});
  add(L + "post_attention_layernorm.weight", {E});
  write_safetensors((dir / "model.safetensors").string(), ts);

  const std::string out = convert(dir, "f32");
  auto g = GgufFile::open(out);
  EXPECT_EQ(g->get_string("general.architecture"), "qwen2");
  EXPECT_EQ(g->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(g->get_string("tokenizer.ggml.pre"), "gpt-2");
  EXPECT_EQ(g->find("tokenizer.ggml.merges")->as_string_array(), merges);
  EXPECT_EQ(g->find("tokenizer.ggml.token_type")->as_int32_array(), vg->find("tokenizer.ggml.token_type")->as_int32_array());
  EXPECT_EQ(g->get_int("tokenizer.ggml.eos_token_id", -1), 50256);
  EXPECT_EQ(g->get_int("tokenizer.ggml.bos_token_id", -1), 50256);
  EXPECT_FALSE(g->get_bool("tokenizer.ggml.add_bos_token", true));
  EXPECT_EQ(g->get_string("tokenizer.chat_template"), "{{ messages }}");
  EXPECT_FALSE(g->find("qwen2.vocab_size"));  // Qwen2Model does not write it
  EXPECT_FALSE(g->find_tensor("output.weight"));
  EXPECT_FALSE(g->find_tensor("rope_freqs.weight"));
  EXPECT_EQ(g->tensors().size(), 14u);
  // NEOX rope: q rows are copied as they are.
  const GgufTensorInfo* q = g->find_tensor("blk.0.attn_q.weight");
  ASSERT_TRUE(q);
  EXPECT_EQ(std::memcmp(g->tensor_data(*q), ts[2].data.data(), q->nbytes), 0);

  auto m = load_model(out);
  expect_vocab_vectors(*m->tokenizer, vocab_rel);
  EXPECT_EQ(greedy(*m, "Hello world", 4).size(), 4u);
  if (const char* keep = std::getenv("QINFER_CONVERT_KEEP_DIR")) {
    fs::create_directories(keep);
    fs::copy_file(out, fs::path(keep) / "qwen2-gpt2-converted.gguf", fs::copy_options::overwrite_existing);
  }
}

// Llama 2 / Mistral / TinyLlama saved with only tokenizer.json: the byte_fallback
// BPE HF's LlamaConverter makes from tok512.model must convert to a "llama"
// vocabulary that tokenizes and generates like stories260K.gguf.
TEST(Convert, SentencePieceStyleTokenizerJson) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  auto want = load_model(test::data_path(kStories));
  const std::vector<std::string> texts = {
      "", " ", "   three leading spaces", "trailing  ", "a\nb\n\nc\n", "tab\tand  two  spaces",
      "Once upon a time, there was a little girl named Lily. She liked to play outside.",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xE2\x9C\x93 caf\xC3\xA9 \xF0\x9F\xA6\x99",  // bytes
      "<s> and </s> as text", "x"};
  // Byte fallback is exercised: the reference itself falls back to bytes.
  const auto cjk = want->tokenizer->encode(texts[7], false, false);
  const auto& types = want->tokenizer->vocab().types;
  EXPECT_TRUE(std::any_of(cjk.begin(), cjk.end(), [&](int32_t t) { return types[size_t(t)] == kTokByte; }));
  for (bool legacy : {true, false}) {
    SCOPED_TRACE(legacy ? "Prepend+Replace normalizer" : "Metaspace pre_tokenizer");
    const fs::path dir =
        write_stories_hf(test::scratch_dir() / (legacy ? "spmjson-legacy" : "spmjson-meta"), StDtype::F32, false);
    fs::remove(dir / "tokenizer.model");
    write_json(dir / "tokenizer.json", stories_tokenizer_json(legacy));
    const std::string out = convert(dir, "f32");
    auto g = GgufFile::open(out);
    EXPECT_EQ(g->get_string("tokenizer.ggml.model"), "llama");
    EXPECT_EQ(g->get_string("tokenizer.ggml.pre"), "default");
    EXPECT_FALSE(g->find("tokenizer.ggml.add_space_prefix"));  // llama's default (true) applies
    EXPECT_FALSE(g->find("tokenizer.ggml.merges"));
    EXPECT_EQ(g->get_int("tokenizer.ggml.bos_token_id", -1), 1);
    EXPECT_EQ(g->get_int("tokenizer.ggml.eos_token_id", -1), 2);
    auto got = load_model(out);
    const VocabData& wv = want->tokenizer->vocab();
    const VocabData& gv = got->tokenizer->vocab();
    EXPECT_EQ(gv.tokens, wv.tokens);
    EXPECT_EQ(gv.types, wv.types);  // <unk> unknown, <s> </s> control, <0xNN> byte, the rest normal
    expect_same_merge_order(wv, gv);
    for (const auto& t : texts)
      for (bool bos : {true, false})
        EXPECT_EQ(got->tokenizer->encode(t, bos, false), want->tokenizer->encode(t, bos, false)) << "'" << t << "'";
    expect_same_model(*want, *got, false);
  }
}

// The same at Llama 2's scale (32000 pieces, "▁▁"-style pieces, tied scores)
// against the ids HF's tokenizer gives for llama.cpp's test texts.
TEST(Convert, SentencePieceStyleTokenizerJsonMatchesHf) {
  const std::string rel = "vocab/ggml-vocab-llama-spm.gguf";
  QINFER_REQUIRE_DATA(rel + ".out");
  auto vg = GgufFile::open(test::data_path(rel));
  const auto tokens = vg->find("tokenizer.ggml.tokens")->as_string_array();
  const auto types = vg->find("tokenizer.ggml.token_type")->as_int32_array();
  const fs::path dir = test::scratch_dir() / "llama-spm-json";
  fs::create_directories(dir);
  write_json(dir / "tokenizer.json",
             spm_tokenizer_json(tokens, vg->find("tokenizer.ggml.scores")->as_float_array(), types, true));
  HfConfig cfg;
  cfg.path = (dir / "config.json").string();
  cfg.vocab_size = int64_t(tokens.size());
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  write_hf_vocab(w, read_hf_vocab(dir.string(), cfg));
  w.write((dir / "vocab.gguf").string());
  const Tokenizer tok(vocab_from_gguf(*GgufFile::open((dir / "vocab.gguf").string())));
  EXPECT_EQ(tok.vocab().tokens, tokens);
  EXPECT_EQ(tok.vocab().types, types);
  expect_vocab_vectors(tok, rel);
}

// How the '▁' steps of a SentencePiece-style tokenizer.json map to the GGUF.
TEST(Convert, SentencePieceStyleSpaceRules) {
  QINFER_REQUIRE_DATA(kTok512);
  const fs::path dir = test::scratch_dir() / "spm-space";
  fs::create_directories(dir);
  HfConfig cfg;
  cfg.path = (dir / "config.json").string();
  auto read = [&](const json& tj) {
    write_json(dir / "tokenizer.json", tj);
    return read_hf_vocab(dir.string(), cfg);
  };
  json tj = stories_tokenizer_json(false);
  tj["pre_tokenizer"]["prepend_scheme"] = "never";
  EXPECT_EQ(read(tj).add_space_prefix, std::optional<bool>(false));
  tj = stories_tokenizer_json(true);
  tj["normalizer"]["normalizers"].erase(0);  // Replace without Prepend
  EXPECT_EQ(read(tj).add_space_prefix, std::optional<bool>(false));
  // Metaspace that splits words at '▁' is harmless unless a piece has an inner '▁'.
  tj = stories_tokenizer_json(false);
  tj["pre_tokenizer"]["split"] = true;
  EXPECT_FALSE(read(tj).add_space_prefix.has_value());
  tj["model"]["vocab"]["a\xE2\x96\x81" "b"] = 512;
  EXPECT_THROW(read(tj), InputError);
  tj = stories_tokenizer_json(true);
  tj["normalizer"] = {{"type", "NFKC"}};
  EXPECT_THROW(read(tj), InputError);
}

TEST(Convert, RopeScaling) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  const fs::path dir = write_stories_hf(test::scratch_dir() / "rope", StDtype::F32, false);
  auto set_scaling = [&](const nlohmann::json& rs) {
    nlohmann::json c = nlohmann::json::parse(std::ifstream(dir / "config.json"));
    c["rope_scaling"] = rs;
    write_text(dir / "config.json", c.dump());
  };
  set_scaling({{"type", "linear"}, {"factor", 2.0}});
  auto g = GgufFile::open(convert(dir, "f32"));
  EXPECT_EQ(g->get_string("llama.rope.scaling.type"), "linear");
  EXPECT_EQ(g->get_float("llama.rope.scaling.factor", 0), 2.0);
  EXPECT_FALSE(g->find_tensor("rope_freqs.weight"));

  // Llama 3.1: per-dimension divisors in rope_freqs.weight (head size 8, base 1e4, 8192 original context).
  set_scaling({{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}});
  const std::string out = convert(dir, "f32");
  g = GgufFile::open(out);
  const GgufTensorInfo* rf = g->find_tensor("rope_freqs.weight");
  ASSERT_TRUE(rf);
  EXPECT_EQ(g->tensors().front().name, "rope_freqs.weight");
  ASSERT_EQ(rf->n_elements(), 4);
  const float* f = reinterpret_cast<const float*>(g->tensor_data(*rf));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f[i], 1.0f) << i;  // wavelengths below 8192/4
  const double wavelen = 2 * M_PI * 1000.0, smooth = (8192.0 / wavelen - 1.0) / 3.0;
  EXPECT_NEAR(f[3], 1.0 / ((1 - smooth) / 8.0 + smooth), 1e-4);
  EXPECT_FALSE(g->find("llama.rope.scaling.type"));  // llama.cpp writes only the tensor
  EXPECT_EQ(load_model(out)->rope_freqs->ne[0], 4);

  set_scaling({{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 512}});
  expect_error(dir, {"config.json", "rope_scaling", "yarn"});
  set_scaling({{"type", "dynamic"}, {"factor", 2.0}});
  expect_error(dir, {"config.json", "dynamic"});
}

TEST(Convert, TokenizerConfigOverrides) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  const fs::path dir = write_stories_hf(test::scratch_dir() / "tc", StDtype::F32, false);
  write_json(dir / "tokenizer_config.json",
             {{"add_bos_token", true}, {"add_eos_token", false},
              {"chat_template", {{{"name", "default"}, {"template", "A"}}, {{"name", "tool use"}, {"template", "B"}}}},
              {"added_tokens_decoder", {{"511", {{"content", "<|im_end|>"}, {"special", false}}}}}});
  auto g = GgufFile::open(convert(dir, "f32"));
  EXPECT_EQ(g->get_string("tokenizer.chat_template"), "A");
  EXPECT_EQ(g->get_string("tokenizer.chat_template.tool_use"), "B");
  EXPECT_EQ(g->find("tokenizer.chat_templates")->as_string_array(), std::vector<std::string>{"tool_use"});
  EXPECT_TRUE(g->get_bool("tokenizer.ggml.add_bos_token", false));
  EXPECT_FALSE(g->get_bool("tokenizer.ggml.add_eos_token", true));
  EXPECT_EQ(g->find("tokenizer.ggml.tokens")->as_string_array()[511], "<|im_end|>");
  EXPECT_EQ(g->find("tokenizer.ggml.token_type")->as_int32_array()[511], 3);  // looks special → control
  EXPECT_EQ(g->find("tokenizer.ggml.scores")->as_float_array()[511], -1000.0f);
}

TEST(Convert, PreTokenizerNames) {
  auto split = [](const std::string& re) {
    return nlohmann::json{{"pre_tokenizer",
                           {{"type", "Sequence"},
                            {"pretokenizers",
                             {{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}},
                              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
                          {"model", {{"type", "BPE"}, {"ignore_merges", true}}}};
  };
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  EXPECT_EQ(bpe_pre_name(split(llama3), "t.json"), "llama-bpe");
  EXPECT_EQ(bpe_pre_name(split(qwen2), "t.json"), "qwen2");
  nlohmann::json star = {{"pre_tokenizer",
                          {{"type", "Sequence"},
                           {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}},
                                              {{"type", "ByteLevel"}, {"use_regex", true}}}}}}};
  EXPECT_EQ(bpe_pre_name(star, "t.json"), "starcoder");
  EXPECT_THROW(bpe_pre_name(split("\\s+"), "t.json"), InputError);
  EXPECT_THROW(bpe_pre_name(nlohmann::json{{"pre_tokenizer", {{"type", "Metaspace"}}}}, "t.json"), InputError);
}

TEST(Convert, SafetensorsHeaderValidation) {
  auto parse = [](const std::string& header, size_t data_bytes) {
    std::vector<uint8_t> buf(8 + header.size() + data_bytes, 0);
    for (int i = 0; i < 8; ++i) buf[size_t(i)] = uint8_t(uint64_t(header.size()) >> (8 * i));
    std::memcpy(buf.data() + 8, header.data(), header.size());
    return SafetensorsFile::parse(buf.data(), buf.size(), "x.safetensors");
  };
  auto bad = [&](const std::string& header, size_t data_bytes, const std::string& needle) {
    try {
      parse(header, data_bytes);
      ADD_FAILURE() << "accepted: " << header;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const auto ok = parse(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}})", 8);
  ASSERT_EQ(ok->tensors().size(), 1u);
  EXPECT_EQ(ok->find("a")->nbytes, 8u);
  bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8, "outside");
  bad(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "needs 12");
  bad(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[4],"data_offsets":[4,12]}})",
      12, "overlap");
  bad(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8, "unsupported dtype 'I64'");
  bad(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "shape");
  bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "data_offsets");
  bad(R"({"a":)", 8, "JSON");
  std::vector<uint8_t> huge(16, 0xff);
  EXPECT_THROW(SafetensorsFile::parse(huge.data(), huge.size(), "x"), InputError);
}

TEST(Convert, HostileCheckpoints) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  const fs::path root = test::scratch_dir();
  auto edit_config = [](const fs::path& dir, const std::string& key, const nlohmann::json& v) {
    nlohmann::json c = nlohmann::json::parse(std::ifstream(dir / "config.json"));
    c[key] = v;
    write_text(dir / "config.json", c.dump());
  };
  fs::path d = write_stories_hf(root / "arch", StDtype::F32, false);
  edit_config(d, "architectures", {"GPT2LMHeadModel"});
  expect_error(d, {"config.json", "GPT2LMHeadModel", "LlamaForCausalLM", "Qwen2ForCausalLM"});

  d = write_stories_hf(root / "shard", StDtype::BF16, true);
  fs::remove(d / "model-00002-of-00002.safetensors");
  expect_error(d, {"model-00002-of-00002.safetensors", "missing shard"});

  d = write_stories_hf(root / "shape", StDtype::F32, false);
  edit_config(d, "intermediate_size", 176);
  expect_error(d, {"model.safetensors", "mlp.down_proj.weight", "config.json"});

  d = write_stories_hf(root / "dtype", StDtype::F32, false);
  {
    const std::string h = R"({"model.norm.weight":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}})";
    std::string len(8, '\0');
    len[0] = char(h.size());
    write_text(d / "model.safetensors", len + h + std::string(8, '\0'));
  }
  expect_error(d, {"model.safetensors", "I8"});

  d = write_stories_hf(root / "spm", StDtype::F32, false);
  write_text(d / "tokenizer.model", "\x0a\xff\xff\xff\x7f garbage");
  expect_error(d, {"tokenizer.model"});

  d = write_stories_hf(root / "tokjson", StDtype::F32, false);
  fs::remove(d / "tokenizer.model");
  write_text(d / "tokenizer.json", "{\"model\": ");
  expect_error(d, {"tokenizer.json", "JSON"});

  // byte_fallback BPE (a SentencePiece-style tokenizer.json): a merge naming a piece the vocab lacks.
  d = write_stories_hf(root / "spmjson", StDtype::F32, false);
  fs::remove(d / "tokenizer.model");
  json tj = stories_tokenizer_json(false);
  tj["model"]["merges"].push_back({"\xE2\x96\x81t", "zq"});
  write_json(d / "tokenizer.json", tj);
  expect_error(d, {"tokenizer.json", "model.merges[", "'zq'", "not in model.vocab"});
  // ... and a pre-tokenizer that does not turn spaces into '▁'.
  tj = stories_tokenizer_json(false);
  tj["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  write_json(d / "tokenizer.json", tj);
  expect_error(d, {"tokenizer.json", "pre_tokenizer", "ByteLevel"});

  d = write_stories_hf(root / "outtype", StDtype::F32, false);
  expect_error(d, {"--outtype", "q4_0"}, "q4_0");

  // Unwritable output: a directory that does not exist.
  ConvertParams p{d.string(), (root / "no-such-dir" / "x.gguf").string(), "f32", ""};
  EXPECT_THROW(convert_hf(p), InputError);
  EXPECT_FALSE(fs::exists(root / "no-such-dir"));
}

TEST(Convert, CommandLine) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTok512);
  const fs::path dir = write_stories_hf(test::scratch_dir() / "cli", StDtype::BF16, false);
  const fs::path out = dir.parent_path() / "cli.gguf";
  auto r = test::run_qinfer("convert " + dir.string() + " -o " + out.string() + " --outtype q8_0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("llama"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out));
  r = test::run_qinfer("convert " + dir.string() + " -o " + out.string() + " --outtype int3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
}
