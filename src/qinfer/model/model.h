// A loaded model: config + tokenizer + named tensors (views over the mapped
// file where the CPU runs the type directly).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "qinfer/core/huge_buffer.h"
#include "qinfer/model/config.h"
#include "qinfer/model/repack.h"
#include "qinfer/model/tensor.h"
#include "qinfer/tokenizer/tokenizer.h"

namespace qinfer {

class GgufFile;
class MappedFile;

struct LayerWeights {
  const Tensor* attn_norm = nullptr;
  const Tensor* wq = nullptr;
  const Tensor* wk = nullptr;
  const Tensor* wv = nullptr;
  const Tensor* wo = nullptr;
  const Tensor* bq = nullptr;  // biases: qwen2 only
  const Tensor* bk = nullptr;
  const Tensor* bv = nullptr;
  const Tensor* ffn_norm = nullptr;
  const Tensor* ffn_gate = nullptr;
  const Tensor* ffn_up = nullptr;
  const Tensor* ffn_down = nullptr;
};

// Quantize while loading, as transformers' load_in_4bit / load_in_8bit: the
// linear layers' F32/F16/BF16 weights become NF4 (4bit) or INT8 (8bit,
// LLM.int8 with outlier threshold 6); the embedding and classifier stay.
// Bf16 (as transformers' torch_dtype=bfloat16) rounds F32/F16 linear weights
// to BF16, whose dot product CPUs with AVX-512 BF16 run at twice the F32 rate
// (F16 keeps 11 significant bits, BF16 8: opt-in, as ik_llama.cpp's -rtr).
enum class LoadIn { None, Nf4, Int8, Bf16 };

struct LoadOptions {
  std::string tokenizer_path;  // llama2.c checkpoints: tokenizer.bin
  LoadIn load_in = LoadIn::None;
  bool repack = true;  // repack weights for the kernels (model/repack.h); QINFER_NO_REPACK=1 also turns it off
};

struct LoadInSummary {
  int converted = 0, skipped = 0;     // tensors converted / left (rows not a multiple of the block, quantized or the type already)
  uint64_t bytes_before = 0, bytes_after = 0;  // of the converted tensors
  TypeId type = TypeId::F32;                   // what they were converted to (when converted > 0)
  std::string file_type;                       // the model's type name as loaded from the file, before
};

class Model {
 public:
  Model();
  ~Model();

  std::string path;
  std::string format;  // "gguf" or "llama2.c"
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;

  std::vector<Tensor> tensors;  // every tensor, file order
  const Tensor* tok_embd = nullptr;
  const Tensor* output_norm = nullptr;
  const Tensor* output = nullptr;  // token_embd when the classifier is shared
  const Tensor* rope_freqs = nullptr;  // Llama-3 style per-dimension frequency divisors, optional
  std::vector<LayerWeights> layers;

  const Tensor* find(const std::string& name) const;
  size_t weight_bytes() const;
  int64_t n_params() const;

  // Storage the views point into.
  std::unique_ptr<GgufFile> gguf;
  std::unique_ptr<MappedFile> mapped;
  std::vector<std::vector<float>> owned;  // tensors converted at load (e.g. norms to F32)
  std::vector<std::vector<uint8_t>> owned_bytes;  // quantized at load (--load-in) or expanded (double quant)
  std::vector<HugeBuffer> packed_arenas;  // the repacked weight matrices (model/repack.h)
  LoadInSummary load_in;
  RepackSummary repack;
};

// "4bit" → Nf4, "8bit" → Int8, "bf16" → Bf16, "" / "none" → None; InputError otherwise.
LoadIn parse_load_in(const std::string& s);
// The tensor type LoadIn converts to ("nf4", "int8", "bf16").
TypeId load_in_type(LoadIn how);

// Loads a GGUF file, or a llama2.c checkpoint (needs options.tokenizer_path).
// Throws InputError naming the file and the problem.
std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options = {});

// The tokenizer of a model file without its weights: a GGUF needs only its
// tokenizer.* keys (vocabulary-only files and any architecture work, as with
// llama-tokenize); a llama2.c checkpoint needs its header and tokenizer.bin.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, const LoadOptions& options = {});
// The type holding most weight-matrix elements (tensors of two or more
// dimensions; every tensor when there is none): what a model "is" when its
// file does not say. One definition for run records, bench and optimize.
TypeId dominant_type(const Model& model);
TypeId dominant_type(const GgufFile& file);  // from the header's tensor infos, nothing loaded
std::string dominant_type_name(const Model& model);  // upper case: "Q4_0", "F16"
// general.file_type's llama-quantize name ("Q4_K_M") when the file gives a
// known one, else the dominant type's name in upper case ("F32").
std::string file_type_name(const Model& model);
std::string file_type_name(const GgufFile& file);

// Fills tok_embd/output/layers from `tensors` by the architecture's names and
// checks every shape against the config. Used by all loaders.
void bind_weights(Model& model);

}  // namespace qinfer
