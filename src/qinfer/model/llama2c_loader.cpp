// karpathy/llama2.c checkpoints: the legacy layout (v0: 7-int header, negative
// vocab_size = separate classifier) and export version 1 ("ak42" magic, fp32,
// 256-byte header). Weights are float32 views into the mapped file; the
// rotary layout is Meta's (adjacent pairs), as llama.cpp's llama2.c converter
// keeps it.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "qinfer/core/error.h"
#include "qinfer/core/mapped_file.h"
#include "qinfer/model/loaders.h"
#include "qinfer/model/weight_names.h"
#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

namespace {

constexpr uint32_t kMagicV1 = 0x616b3432;  // "ak42"

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

std::string find_tokenizer(const std::string& path, const LoadOptions& options, int vocab_size) {
  if (!options.tokenizer_path.empty()) return options.tokenizer_path;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  for (const std::string& name : {"tok" + std::to_string(vocab_size) + ".bin", std::string("tokenizer.bin")})
    if (fs::exists(dir / name)) return (dir / name).string();
  throw InputError(path + ": llama2.c checkpoint needs its tokenizer: pass --tokenizer tokenizer.bin");
}

// Adds tensors laid out back to back, checking each against the file size.
class Layout {
 public:
  Layout(Model& m, size_t offset) : m_(m), off_(offset) {}
  void add(const std::string& name, int64_t ne0, int64_t ne1 = 1) {
    const size_t bytes = size_t(ne0) * size_t(ne1) * 4;
    if (off_ > m_.mapped->size() || bytes > m_.mapped->size() - off_)
      throw InputError(m_.path + ": file is too short for tensor " + name + " (truncated checkpoint?)");
    Tensor t;
    t.name = name;
    t.type = TypeId::F32;
    t.ne[0] = ne0;
    t.ne[1] = ne1;
    t.n_dims = ne1 > 1 ? 2 : 1;
    t.data = m_.mapped->data() + off_;
    t.nbytes = bytes;
    m_.tensors.push_back(std::move(t));
    off_ += bytes;
  }
  // One tensor per layer, shaped as weight_names.h says.
  void per_layer(LayerPart part) {
    const LayerTensorInfo& t = layer_tensor(part);
    const ModelConfig& c = m_.config;
    for (int il = 0; il < c.n_layer; ++il) add(names::layer(il, part), dim_size(t.cols, c), dim_size(t.rows, c));
  }
  void skip(size_t bytes, const char* what) {
    if (off_ > m_.mapped->size() || bytes > m_.mapped->size() - off_)
      throw InputError(m_.path + ": file is too short for " + std::string(what));
    off_ += bytes;
  }
  size_t offset() const { return off_; }

 private:
  Model& m_;
  size_t off_;
};

// The header of a llama2.c checkpoint, validated: anything implausible means
// the file is neither GGUF nor llama2.c.
struct ParsedHeader {
  Header h{};
  int version = 0;
  size_t size = sizeof(Header);
  bool shared = true;  // classifier shared with the token embedding
};

// The name of the first field outside what a llama2.c export can hold, or nullptr.
const char* implausible_field(const Header& h) {
  if (h.dim <= 0 || h.dim > 65536) return "dim";
  if (h.hidden_dim <= 0 || h.hidden_dim > 1 << 20) return "hidden_dim";
  if (h.n_layers <= 0 || h.n_layers > 1024) return "n_layers";
  if (h.n_heads <= 0 || h.dim % h.n_heads != 0) return "n_heads";
  if (h.n_kv_heads <= 0 || h.n_heads % h.n_kv_heads != 0) return "n_kv_heads";
  if (h.vocab_size <= 0 || h.vocab_size > 1 << 22) return "vocab_size";
  if (h.seq_len <= 0 || h.seq_len > 1 << 22) return "seq_len";
  return nullptr;
}

ParsedHeader parse_header(const MappedFile& file, const std::string& path) {
  ParsedHeader p;
  uint32_t magic = 0;
  if (file.size() >= 4) std::memcpy(&magic, file.data(), 4);
  if (magic == kMagicV1) {
    if (file.size() < 256) throw InputError(path + ": truncated llama2.c header");
    std::memcpy(&p.version, file.data() + 4, 4);
    if (p.version != 1)
      throw InputError(path + ": llama2.c export version " + std::to_string(p.version) +
                       " is not supported (versions 0 and 1, float32)");
    std::memcpy(&p.h, file.data() + 8, sizeof(Header));
    p.shared = file.data()[8 + sizeof(Header)] != 0;
    p.size = 256;
  } else {
    if (file.size() < sizeof(Header)) throw InputError(path + ": not a GGUF or llama2.c file (too small)");
    std::memcpy(&p.h, file.data(), sizeof(Header));
    p.shared = p.h.vocab_size > 0;
    if (p.h.vocab_size < 0) p.h.vocab_size = -p.h.vocab_size;
  }
  // A version-0 checkpoint has no magic: a header that does not make sense is
  // most likely another kind of file, so say that rather than which field broke.
  const char* bad = implausible_field(p.h);
  if (bad) {
    if (p.version == 1) throw InputError(path + ": llama2.c header: " + bad + " is out of range");
    std::string start;
    for (size_t i = 0; i < std::min<size_t>(4, file.size()); ++i) {
      const unsigned char c = file.data()[i];
      char esc[8];
      std::snprintf(esc, sizeof esc, (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? "%c" : "\\x%02x", c);
      start += esc;
    }
    throw InputError(path + ": not a GGUF or llama2.c file (it starts with \"" + start + "\", GGUF starts with \"GGUF\")");
  }
  return p;
}

}  // namespace

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, const LoadOptions& options) {
  const MappedFile file(path);
  const ParsedHeader p = parse_header(file, path);
  return std::make_unique<Tokenizer>(
      vocab_from_llama2c(find_tokenizer(path, options, p.h.vocab_size), p.h.vocab_size));
}

std::unique_ptr<Model> load_llama2c_model(const std::string& path, const LoadOptions& options) {
  auto m = std::make_unique<Model>();
  m->path = path;
  m->format = "llama2.c";
  m->mapped = std::make_unique<MappedFile>(path);
  const MappedFile& file = *m->mapped;
  const ParsedHeader p = parse_header(file, path);
  const Header& h = p.h;
  const int version = p.version;
  const size_t header_size = p.size;
  const bool shared = p.shared;

  ModelConfig& c = m->config;
  c.arch = "llama";
  c.name = std::filesystem::path(path).stem().string();
  c.n_vocab = h.vocab_size;
  c.n_ctx_train = h.seq_len;
  c.n_embd = h.dim;
  c.n_layer = h.n_layers;
  c.n_head = h.n_heads;
  c.n_head_kv = h.n_kv_heads;
  c.n_ff = h.hidden_dim;
  c.head_dim = h.dim / h.n_heads;
  c.norm_eps = 1e-5f;
  c.rope.layout = RopeLayout::Norm;
  c.rope.n_rot = c.head_dim;
  c.rope.freq_base = 10000.0f;

  const int64_t dim = c.n_embd, nv = c.n_vocab;
  Layout L(*m, header_size);
  using P = LayerPart;
  if (version == 0) {
    L.add(names::token_embd, dim, nv);
    for (P part : {P::AttnNorm, P::AttnQ, P::AttnK, P::AttnV, P::AttnOutput, P::FfnNorm})
      L.per_layer(part);
    for (P part : {P::FfnGate, P::FfnDown, P::FfnUp}) L.per_layer(part);  // w1, w2, w3
    L.add(names::output_norm, dim);
    L.skip(size_t(c.n_ctx_train) * size_t(c.head_dim) * 4, "the rotary tables");  // freq_cis real + imag
  } else {
    L.per_layer(P::AttnNorm);
    L.per_layer(P::FfnNorm);
    L.add(names::output_norm, dim);
    L.add(names::token_embd, dim, nv);
    for (P part : {P::AttnQ, P::AttnK, P::AttnV, P::AttnOutput, P::FfnGate, P::FfnDown, P::FfnUp}) L.per_layer(part);
  }
  if (!shared) L.add(names::output, dim, nv);
  if (L.offset() != file.size())
    throw InputError(path + ": llama2.c checkpoint has " + std::to_string(file.size() - L.offset()) +
                     " unexpected trailing bytes (wrong header?)");

  VocabData vocab = vocab_from_llama2c(find_tokenizer(path, options, c.n_vocab), c.n_vocab);
  m->tokenizer = std::make_unique<Tokenizer>(std::move(vocab));
  bind_weights(*m);
  return m;
}

}  // namespace qinfer
