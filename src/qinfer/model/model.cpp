#include "qinfer/model/model.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "qinfer/core/ascii.h"
#include "qinfer/core/error.h"
#include "qinfer/core/mapped_file.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/model/arch.h"
#include "qinfer/model/file_types.h"
#include "qinfer/model/weight_names.h"
#include "qinfer/model/loaders.h"
#include "qinfer/tokenizer/vocab.h"
#include "qinfer/quant/quant_common.h"

namespace qinfer {

Model::Model() = default;
Model::~Model() = default;

std::string Tensor::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < std::max(n_dims, 1); ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

const Tensor* Model::find(const std::string& name) const {
  for (const Tensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

size_t Model::weight_bytes() const {
  size_t n = 0;
  for (const Tensor& t : tensors) n += t.nbytes;
  return n;
}

int64_t Model::n_params() const {
  int64_t n = 0;
  for (const Tensor& t : tensors) n += t.n_elements();
  return n;
}

namespace {

// Over a loaded model's tensors or a GGUF header's tensor infos alike.
template <class TensorList>
TypeId dominant_type_of(const TensorList& tensors) {
  std::map<TypeId, int64_t> matrices, all;
  for (const auto& t : tensors) {
    all[t.type] += t.n_elements();
    if (t.n_dims >= 2) matrices[t.type] += t.n_elements();
  }
  const auto& counts = matrices.empty() ? all : matrices;
  if (counts.empty()) return TypeId::F32;
  return std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

std::string file_type_name_of(const GgufFile* gguf, TypeId dominant) {
  if (gguf)
    if (const FileTypeInfo* ft = find_file_type(gguf->get_int("general.file_type", -1))) return ft->name;
  return ascii_upper(type_info(dominant).name);
}

}  // namespace

TypeId dominant_type(const Model& m) { return dominant_type_of(m.tensors); }
TypeId dominant_type(const GgufFile& f) { return dominant_type_of(f.tensors()); }

// A model converted while loading says so, so that stored runs of the same
// file with and without --load-in are told apart ("F16, loaded as BF16").
std::string file_type_name(const Model& m) {
  if (m.load_in.converted == 0) return file_type_name_of(m.gguf.get(), dominant_type(m));
  return m.load_in.file_type + ", loaded as " + ascii_upper(type_info(m.load_in.type).name);
}
std::string file_type_name(const GgufFile& f) { return file_type_name_of(&f, dominant_type(f)); }

std::string dominant_type_name(const Model& m) { return ascii_upper(type_info(dominant_type(m)).name); }

namespace {

class Binder {
 public:
  explicit Binder(Model& m) : m_(m) {}

  const Tensor* get(const std::string& name, std::initializer_list<int64_t> shape, bool required = true) {
    const Tensor* t = m_.find(name);
    if (!t) {
      if (required) throw InputError(m_.path + ": missing tensor " + name);
      return nullptr;
    }
    int d = 0;
    bool ok = true;
    std::string want = "[";
    for (int64_t n : shape) {
      want += (d ? ", " : "") + std::to_string(n);
      if (t->ne[d] != n) ok = false;
      ++d;
    }
    want += "]";
    for (int k = d; k < 4; ++k)
      if (t->ne[k] != 1) ok = false;
    if (!ok)
      throw InputError(m_.path + ": tensor " + name + ": expected " + want + ", got " + t->shape_string());
    return t;
  }

  // Norms and biases are read as floats by the model code: convert other types once.
  const Tensor* get_f32(const std::string& name, int64_t n, bool required = true) {
    const Tensor* t = get(name, {n}, required);
    if (!t || t->type == TypeId::F32) return t;
    auto& buf = m_.owned.emplace_back(size_t(n));
    type_info(t->type).to_float(t->data, buf.data(), n);
    Tensor* mt = const_cast<Tensor*>(t);
    mt->type = TypeId::F32;
    mt->data = reinterpret_cast<const uint8_t*>(buf.data());
    mt->nbytes = size_t(n) * 4;
    return t;
  }

 private:
  Model& m_;
};

}  // namespace

void bind_weights(Model& m) {
  ModelConfig& c = m.config;
  Binder b(m);
  m.tok_embd = b.get(names::token_embd, {c.n_embd, c.n_vocab});
  m.output_norm = b.get_f32(names::output_norm, c.n_embd);
  m.output = b.get(names::output, {c.n_embd, c.n_vocab}, false);
  if (!m.output) m.output = m.tok_embd;  // shared classifier
  m.config.tied_embeddings = m.output == m.tok_embd;
  m.rope_freqs = b.get_f32(names::rope_freqs, c.rope.n_rot / 2, false);
  m.layers.resize(size_t(c.n_layer));
  for (int il = 0; il < c.n_layer; ++il) {
    LayerWeights& L = m.layers[size_t(il)];
    for (const LayerTensorInfo& t : layer_tensors()) {
      const std::string name = names::layer(il, t.part);
      const int64_t cols = dim_size(t.cols, c);
      if (t.kind == LayerTensorInfo::Matrix)
        L.*t.slot = b.get(name, {cols, dim_size(t.rows, c)});
      else  // norms and biases are read as floats
        L.*t.slot = b.get_f32(name, cols, t.kind == LayerTensorInfo::Norm || c.qkv_bias);
    }
  }
}

LoadIn parse_load_in(const std::string& s) {
  if (s.empty() || s == "none") return LoadIn::None;
  if (s == "4bit") return LoadIn::Nf4;
  if (s == "8bit") return LoadIn::Int8;
  if (s == "bf16") return LoadIn::Bf16;
  throw InputError("--load-in: '" + s + "' is not 4bit, 8bit or bf16");
}

TypeId load_in_type(LoadIn how) {
  switch (how) {
    case LoadIn::Nf4: return TypeId::NF4;
    case LoadIn::Int8: return TypeId::INT8;
    case LoadIn::Bf16: return TypeId::BF16;
    case LoadIn::None: break;
  }
  throw Error("load_in_type: no conversion");
}

namespace {

enum class FileFormat { kGguf, kLlama2c };

// GGUF has a magic; llama2.c checkpoints do not.
FileFormat sniff_format(const std::string& path) {
  MappedFile probe(path);
  if (probe.size() >= 4 && std::memcmp(probe.data(), "GGUF", 4) == 0) return FileFormat::kGguf;
  if (probe.size() >= 4 && std::memcmp(probe.data(), "GGML", 4) == 0)
    throw InputError(path + ": legacy GGML/GGJT files are not supported; convert to GGUF");
  return FileFormat::kLlama2c;
}

// Converts the linear layers' float weights in place (views move to owned buffers).
void convert_on_load(Model& m, LoadIn how) {
  const TypeId to = load_in_type(how);
  const TypeInfo& dst = type_info(to);
  m.load_in.file_type = file_type_name(m);
  std::vector<float> row;
  for (const LayerWeights& L : m.layers)
    for (const Tensor* ct : {L.wq, L.wk, L.wv, L.wo, L.ffn_gate, L.ffn_up, L.ffn_down}) {
      Tensor& t = const_cast<Tensor&>(*ct);
      const TypeInfo& src = type_info(t.type);
      if (src.quantized || t.type == to || t.ne[0] % dst.block_size != 0) {
        ++m.load_in.skipped;
        continue;
      }
      const int64_t n = t.ne[0], rows = t.rows();
      std::vector<uint8_t>& buf = m.owned_bytes.emplace_back(size_t(rows) * row_size(to, n));
      row.resize(size_t(n));
      for (int64_t r = 0; r < rows; ++r) {
        src.to_float(t.row(r), row.data(), n);
        if (row_has_nonfinite(row.data(), n))
          throw InputError(m.path + ": tensor " + t.name + " has a NaN or Inf weight; cannot --load-in");
        dst.quantize(row.data(), buf.data() + size_t(r) * row_size(to, n), 1, n, nullptr);
      }
      m.load_in.bytes_before += t.nbytes;
      m.load_in.bytes_after += buf.size();
      ++m.load_in.converted;
      m.load_in.type = to;
      t.type = to;
      t.data = buf.data();
      t.nbytes = buf.size();
    }
}

}  // namespace

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options) {
  std::unique_ptr<Model> m =
      sniff_format(path) == FileFormat::kGguf ? load_gguf_model(path) : load_llama2c_model(path, options);
  if (options.load_in != LoadIn::None) convert_on_load(*m, options.load_in);
  if (options.repack) m->repack = repack_weights(*m);
  return m;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, const LoadOptions& options) {
  if (sniff_format(path) == FileFormat::kLlama2c) return load_llama2c_tokenizer(path, options);
  const auto gguf = GgufFile::open(path);
  return std::make_unique<Tokenizer>(vocab_from_gguf(*gguf));
}

}  // namespace qinfer
