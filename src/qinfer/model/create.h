// Random-weight models of a named shape, written as GGUF that both qinfer and
// llama.cpp load: for benchmarks of real sizes without downloading weights,
// and for tests that need an architecture no small real model covers.
//
//   CreateOptions o;
//   o.shape = *find_preset("tinyllama-1.1b");
//   o.type = TypeId::Q4_0;
//   create_model("tl.gguf", o);
//
// Weights are N(0, 1/sqrt(fan_in)) (token_embd N(0, 1), or N(0, 1/sqrt(n_embd))
// when it is also the classifier, so logits have unit scale), norms 1.0, biases
// N(0, 0.5), drawn from a counter-based generator keyed by (seed, tensor,
// row): the file is the same for any thread count. Matrices whose rows are
// not a multiple of the type's block fall back to F16, as llama-quantize does.
// The tokenizer is synthetic but complete: an SPM vocabulary (<unk> <s> </s>,
// 256 byte tokens, then letter pieces) for llama, a GPT-2 byte-level BPE
// vocabulary with merges for qwen2. The classifier rows of byte and special
// tokens are zero, so greedy output is letter pieces only: valid UTF-8, which
// servers that parse their output (llama-server) require of a benchmark model.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "qinfer/model/config.h"
#include "qinfer/quant/type_id.h"

namespace qinfer {

// The named shapes (name = the preset's name, also general.name), in listing order.
const std::vector<ModelConfig>& model_presets();
// nullptr when there is no preset of that name.
const ModelConfig* find_preset(std::string_view name);

struct CreateProgress {
  int tensor_index = 0;  // 0-based, of n_tensors
  int n_tensors = 0;
  const std::string* tensor_name = nullptr;
  TypeId type = TypeId::F32;
  uint64_t bytes_done = 0;  // tensor data bytes written so far, this tensor included
  uint64_t bytes_total = 0;
};

struct CreateOptions {
  ModelConfig shape;  // arch, sizes, rope.freq_base, norm_eps, tied_embeddings (complete_config fills the rest)
  TypeId type = TypeId::F16;             // type of the 2-D weights
  uint64_t seed = 42;
  int n_threads = 0;                     // resolve_thread_count: 0 is the physical cores
  // Called once after each tensor is written.
  std::function<void(const CreateProgress&)> progress;
};

struct CreateStats {
  int n_tensors = 0;
  int n_fallback = 0;       // matrices written as F16 because of their row size
  int64_t n_params = 0;
  uint64_t tensor_bytes = 0;
  double seconds = 0;
};

// Checks the shape (InputError naming the field), then writes the file
// (atomically, through GgufWriter). The type must have a reference quantizer.
CreateStats create_model(const std::string& path, const CreateOptions& options);

// The shape checks create_model runs; throws InputError.
void validate_shape(const ModelConfig& shape);

}  // namespace qinfer
