#include "qinfer/model/create.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/core/threads.h"
#include "qinfer/formats/gguf_writer.h"
#include "qinfer/model/arch.h"
#include "qinfer/model/file_types.h"
#include "qinfer/model/gguf_hparams.h"
#include "qinfer/model/weight_names.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/tokenizer/unicode.h"
#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

// ---------------------------------------------------------------- presets

const std::vector<ModelConfig>& model_presets() {
  auto shape = [](const char* name, const char* arch, int vocab, int ctx, int embd, int ff, int layers, int heads,
                  int kv, float rope_base, float eps, bool tied) {
    ModelConfig c;
    c.name = name;
    c.arch = arch;
    c.n_vocab = vocab;
    c.n_ctx_train = ctx;
    c.n_embd = embd;
    c.n_ff = ff;
    c.n_layer = layers;
    c.n_head = heads;
    c.n_head_kv = kv;
    c.rope.freq_base = rope_base;
    c.norm_eps = eps;
    c.tied_embeddings = tied;
    return c;
  };
  //                                       arch     vocab   ctx  embd    ff  lay head kv  rope  eps   tie
  static const std::vector<ModelConfig> presets = {
      shape("stories260k", "llama", 512, 512, 64, 172, 5, 8, 4, 10000.0f, 1e-5f, true),
      shape("stories15m", "llama", 32000, 256, 288, 768, 6, 6, 6, 10000.0f, 1e-5f, true),
      shape("tinyllama-1.1b", "llama", 32000, 2048, 2048, 5632, 22, 32, 4, 10000.0f, 1e-5f, false),
      // TinyLlama's structure (32000 vocabulary, untied classifier, 8 query heads per KV head) at test size.
      shape("tinyllama-mini", "llama", 32000, 2048, 256, 768, 4, 8, 1, 10000.0f, 1e-5f, false),
      shape("llama2-7b", "llama", 32000, 4096, 4096, 11008, 32, 32, 32, 10000.0f, 1e-5f, false),
      shape("qwen2-0.5b", "qwen2", 151936, 32768, 896, 4864, 24, 14, 2, 1000000.0f, 1e-6f, true),
  };
  return presets;
}

const ModelConfig* find_preset(std::string_view name) {
  for (const ModelConfig& s : model_presets())
    if (s.name == name) return &s;
  return nullptr;
}

namespace {

// Synthetic vocabularies need the byte tokens, the specials and at least one piece.
constexpr int kSpmFixed = 3 + 256;
constexpr int kBpeFixed = 256 + 3;

void require(bool ok, const std::string& what) {
  if (!ok) throw InputError("model shape: " + what);
}

}  // namespace

void validate_shape(const ModelConfig& s) {
  const ArchInfo* arch = find_arch(s.arch);
  require(arch != nullptr, "unsupported architecture '" + s.arch + "' (supported: " + supported_archs() + ")");
  auto positive = [](const char* what, int64_t v, int64_t max) {
    require(v > 0 && v <= max, std::string(what) + " = " + std::to_string(v) + " is out of range (1.." +
                                   std::to_string(max) + ")");
  };
  positive("n_embd", s.n_embd, 1 << 16);
  positive("n_ff", s.n_ff, 1 << 18);
  positive("n_layer", s.n_layer, 1024);
  positive("n_head", s.n_head, 1 << 10);
  positive("n_head_kv", s.n_head_kv, s.n_head);
  positive("n_ctx", s.n_ctx_train, 1 << 24);
  positive("n_vocab", s.n_vocab, 1 << 22);
  require(s.n_embd % s.n_head == 0,
          "n_embd " + std::to_string(s.n_embd) + " is not a multiple of n_head " + std::to_string(s.n_head));
  require((s.n_embd / s.n_head) % 2 == 0, "head size " + std::to_string(s.n_embd / s.n_head) + " must be even for rope");
  require(s.n_head % s.n_head_kv == 0,
          "n_head " + std::to_string(s.n_head) + " is not a multiple of n_head_kv " + std::to_string(s.n_head_kv));
  const int min_vocab = (arch->qkv_bias ? kBpeFixed : kSpmFixed) + 1;
  require(s.n_vocab >= min_vocab, "n_vocab " + std::to_string(s.n_vocab) + " is below " + std::to_string(min_vocab) +
                                      " (special and byte tokens plus one piece)");
  require(s.rope.freq_base > 0 && std::isfinite(s.rope.freq_base), "rope base must be positive");
  require(s.norm_eps > 0 && std::isfinite(s.norm_eps), "norm eps must be positive");
}

namespace {

// ---------------------------------------------------------------- tokenizer

// Pieces grown letter by letter from `bases`: the bases themselves (when
// `emit_bases`), then every piece of length k+1 as a piece of length k plus
// one lowercase letter, until `count` are produced. on_piece(text, left,
// right) sees each new piece with the two parts it is made of (left empty for
// bases), so BPE merges can be written and every merge result is a token.
template <typename F>
void grow_pieces(const std::vector<std::string>& bases, const std::vector<std::string>& extra_singles,
                 bool emit_bases, int count, F on_piece) {
  int emitted = 0;
  auto emit = [&](const std::string& text, const std::string& left, const std::string& right) {
    if (emitted >= count) return false;
    on_piece(text, left, right);
    ++emitted;
    return true;
  };
  if (emit_bases) {
    for (const std::string& b : bases)
      if (!emit(b, "", "")) return;
    for (const std::string& s : extra_singles)
      if (!emit(s, "", "")) return;
  }
  std::vector<std::string> frontier = bases;
  while (emitted < count) {
    std::vector<std::string> next;
    next.reserve(std::min<size_t>(frontier.size() * 26, size_t(count - emitted)));
    for (const std::string& s : frontier) {
      for (char c = 'a'; c <= 'z'; ++c) {
        if (!emit(s + c, s, std::string(1, c))) return;
        next.push_back(s + c);
      }
    }
    frontier = std::move(next);
  }
}

std::vector<std::string> single_chars() {
  std::vector<std::string> out;
  for (char c = 'A'; c <= 'Z'; ++c) out.emplace_back(1, c);
  for (char c = '0'; c <= '9'; ++c) out.emplace_back(1, c);
  for (char c : std::string(".,!?'\"-:;()")) out.emplace_back(1, c);
  return out;
}

// SentencePiece-style (tokenizer.ggml.model = "llama"): <unk> <s> </s>, the
// 256 byte-fallback tokens, then "▁" and letter pieces with falling scores.
void add_spm_vocab(GgufWriter& w, int n_vocab) {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens.reserve(size_t(n_vocab));
  auto add = [&](std::string t, float score, int32_t type) {
    tokens.push_back(std::move(t));
    scores.push_back(score);
    types.push_back(type);
  };
  add("<unk>", 0.0f, kTokUnknown);
  add("<s>", 0.0f, kTokControl);
  add("</s>", 0.0f, kTokControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, 0.0f, kTokByte);
  }
  const std::string space = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  std::vector<std::string> bases = {space};
  for (char c = 'a'; c <= 'z'; ++c) bases.emplace_back(1, c);
  int rank = 0;
  grow_pieces(bases, single_chars(), true, n_vocab - kSpmFixed,
              [&](const std::string& text, const std::string&, const std::string&) {
                add(text, -float(rank++), kTokNormal);
              });
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.scores", scores);
  w.set_array("tokenizer.ggml.token_type", types);
  w.set_uint32("tokenizer.ggml.bos_token_id", 1);
  w.set_uint32("tokenizer.ggml.eos_token_id", 2);
  w.set_uint32("tokenizer.ggml.unknown_token_id", 0);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
}

// GPT-2 byte-level BPE (tokenizer.ggml.model = "gpt2", pre "qwen2"): the 256
// byte stand-ins, letter pieces each made by one merge, then Qwen's specials.
void add_bpe_vocab(GgufWriter& w, int n_vocab) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  tokens.reserve(size_t(n_vocab));
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(unicode::byte_to_unicode(uint8_t(b)));
    types.push_back(kTokNormal);
  }
  std::vector<std::string> bases = {unicode::byte_to_unicode(' ')};  // "Ġ"
  for (char c = 'a'; c <= 'z'; ++c) bases.emplace_back(1, c);
  const int n_pieces = n_vocab - kBpeFixed;
  merges.reserve(size_t(n_pieces));
  grow_pieces(bases, {}, false, n_pieces, [&](const std::string& text, const std::string& left, const std::string& right) {
    tokens.push_back(text);
    types.push_back(kTokNormal);
    merges.push_back(left + " " + right);
  });
  const int32_t eot = int32_t(tokens.size());
  for (const char* s : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    tokens.emplace_back(s);
    types.push_back(kTokControl);
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "qwen2");
  w.set_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.token_type", types);
  w.set_array("tokenizer.ggml.merges", merges);
  w.set_uint32("tokenizer.ggml.bos_token_id", uint32_t(eot));
  w.set_uint32("tokenizer.ggml.eos_token_id", uint32_t(eot));
  w.set_uint32("tokenizer.ggml.padding_token_id", uint32_t(eot));
  w.set_bool("tokenizer.ggml.add_bos_token", false);
}

// ---------------------------------------------------------------- weights

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t row_key(uint64_t seed, uint64_t tensor, uint64_t row) {
  uint64_t s = seed;
  splitmix64(s);
  s ^= tensor * 0xD1B54A32D192ED03ull;
  splitmix64(s);
  s ^= row * 0xABC98388FB8FAC03ull;
  return splitmix64(s);
}

// n samples of N(0, stddev), Box-Muller over a splitmix64 stream.
void fill_normal(float* x, int64_t n, float stddev, uint64_t key) {
  uint64_t state = key;
  constexpr float kTwoPi = 6.28318530717958647692f;
  for (int64_t i = 0; i < n; i += 2) {
    const float u1 = float((splitmix64(state) >> 40) + 1) * 0x1p-24f;  // (0, 1]
    const float u2 = float(splitmix64(state) >> 40) * 0x1p-24f;        // [0, 1)
    const float r = stddev * std::sqrt(-2.0f * std::log(u1));
    x[i] = r * std::cos(kTwoPi * u2);
    if (i + 1 < n) x[i + 1] = r * std::sin(kTwoPi * u2);
  }
}

enum class Init { Normal, Ones };

struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;  // ggml order
  TypeId type;
  Init init;
  float stddev;
  bool classifier = false;  // rows of tokens that are not text are zero (see text_token)
};

// Whether a token of the synthetic vocabulary is text: letter pieces are,
// specials and byte tokens are not. The classifier's rows of the others are
// zero, so greedy decoding (max of thousands of random logits, far above 0)
// never picks them: a random model's output is valid UTF-8, which servers
// that parse what they generate (llama-server) require.
bool text_token(const ModelConfig& c, int64_t id) {
  if (c.qkv_bias) return id >= 256 && id < c.n_vocab - 3;  // BPE: bytes first, specials last
  return id >= kSpmFixed;                                  // SPM: specials and bytes first
}

// Every weight in file order: token_embd, the blocks (weight_names.h's order), output_norm, output.
std::vector<TensorPlan> plan_tensors(const ModelConfig& c, TypeId type, int* n_fallback) {
  const TypeInfo& ti = type_info(type);
  std::vector<TensorPlan> out;
  auto matrix = [&](std::string name, int64_t cols, int64_t rows, float stddev) {
    TypeId t = type;
    if (cols % ti.block_size != 0) {  // llama-quantize's last resort
      t = TypeId::F16;
      ++*n_fallback;
    }
    out.push_back({std::move(name), {cols, rows}, t, Init::Normal, stddev});
  };
  auto vec = [&](std::string name, int64_t n, Init init, float stddev) {
    out.push_back({std::move(name), {n}, TypeId::F32, init, stddev});
  };
  auto fan_in = [](int64_t n) { return 1.0f / std::sqrt(float(n)); };
  constexpr float kBiasStd = 0.5f;

  // A shared classifier reads token_embd too: scale it as a matrix of fan-in
  // n_embd so logits have unit scale either way.
  matrix(names::token_embd, c.n_embd, c.n_vocab, c.tied_embeddings ? fan_in(c.n_embd) : 1.0f);
  out.back().classifier = c.tied_embeddings;
  for (int il = 0; il < c.n_layer; ++il)
    for (const LayerTensorInfo& t : layer_tensors()) {
      const int64_t cols = dim_size(t.cols, c);
      switch (t.kind) {
        case LayerTensorInfo::Norm: vec(names::layer(il, t.part), cols, Init::Ones, 0); break;
        case LayerTensorInfo::Bias:
          if (c.qkv_bias) vec(names::layer(il, t.part), cols, Init::Normal, kBiasStd);
          break;
        case LayerTensorInfo::Matrix:
          matrix(names::layer(il, t.part), cols, dim_size(t.rows, c), fan_in(cols));
          break;
      }
    }
  vec(names::output_norm, c.n_embd, Init::Ones, 0);
  if (!c.tied_embeddings) {
    matrix(names::output, c.n_embd, c.n_vocab, fan_in(c.n_embd));
    out.back().classifier = true;
  }
  return out;
}

void add_metadata(GgufWriter& w, const ModelConfig& c, TypeId type) {
  w.set_string("general.architecture", c.arch);
  w.set_string("general.name", c.name.empty() ? "random " + c.arch : c.name);
  w.set_uint32("general.file_type", uint32_t(uniform_file_type(type).ftype));
  w.set_uint32("general.quantization_version", 2);
  write_gguf_hparams(w, c);
  if (c.qkv_bias)
    add_bpe_vocab(w, c.n_vocab);
  else
    add_spm_vocab(w, c.n_vocab);
}

}  // namespace

CreateStats create_model(const std::string& path, const CreateOptions& o) {
  validate_shape(o.shape);
  const TypeInfo* ti = find_type(o.type);
  if (!ti || !ti->from_float)
    throw InputError(std::string("type ") + (ti ? ti->name : "?") + " cannot be written: it has no reference quantizer");
  uniform_file_type(o.type);  // throws for a type llama.cpp has no file type for

  const auto t0 = std::chrono::steady_clock::now();
  CreateStats stats;
  const ModelConfig config = complete_config(o.shape);
  std::vector<TensorPlan> plan = plan_tensors(config, o.type, &stats.n_fallback);
  GgufWriter w;
  add_metadata(w, config, o.type);

  ThreadPool pool(resolve_thread_count(o.n_threads));
  uint64_t total = 0;
  for (const TensorPlan& t : plan) {
    total += GgufWriter::tensor_nbytes(t.type, t.ne);
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    stats.n_params += n;
  }
  stats.n_tensors = int(plan.size());
  stats.tensor_bytes = total;

  uint64_t done = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const TensorPlan& t = plan[k];
    w.add_tensor(t.name, t.type, t.ne, [&, k](const GgufWriteFn& write) {
      const TypeInfo& tt = type_info(t.type);
      const int64_t cols = t.ne[0];
      const int64_t rows = t.ne.size() > 1 ? t.ne[1] : 1;
      const size_t row_bytes = row_size(t.type, cols);
      // About 16 MiB of output per chunk; rows are generated in parallel.
      const int64_t chunk_rows = std::max<int64_t>(1, int64_t((16u << 20) / row_bytes));
      std::vector<uint8_t> buf(size_t(std::min(rows, chunk_rows)) * row_bytes);
      for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
        const int64_t nr = std::min(chunk_rows, rows - r0);
        pool.parallel_for(nr, [&](int64_t a, int64_t b) {
          std::vector<float> row(static_cast<size_t>(cols));
          for (int64_t r = a; r < b; ++r) {
            if (t.init == Init::Ones)
              std::fill(row.begin(), row.end(), 1.0f);
            else if (t.classifier && !text_token(config, r0 + r))
              std::fill(row.begin(), row.end(), 0.0f);
            else
              fill_normal(row.data(), cols, t.stddev, row_key(o.seed, k, uint64_t(r0 + r)));
            tt.from_float(row.data(), buf.data() + size_t(r) * row_bytes, cols);
          }
        });
        write(buf.data(), size_t(nr) * row_bytes);
      }
      done += size_t(rows) * row_bytes;
      if (o.progress) o.progress({int(k), int(plan.size()), &t.name, t.type, done, total});
    });
  }
  w.write(path);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

}  // namespace qinfer
