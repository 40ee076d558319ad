// Weight names are an API: GGUF's tensor names for the llama-family decoder,
// with each weight's shape in terms of the config and the Hugging Face name it
// is converted from. One table for the loaders (GGUF, llama2.c), create and
// convert, so a name or a shape is spelled once.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "qinfer/model/model.h"

namespace qinfer {

// A dimension of a weight, read from the config.
enum class Dim { One, Embd, Q, Kv, Ff, Vocab };
int64_t dim_size(Dim d, const ModelConfig& c);

enum class LayerPart {
  AttnNorm, AttnQ, AttnQBias, AttnK, AttnKBias, AttnV, AttnVBias, AttnOutput,
  FfnNorm, FfnGate, FfnUp, FfnDown,
};

struct LayerTensorInfo {
  LayerPart part;
  const char* gguf;  // after "blk.N.": "attn_q.weight"
  enum Kind { Norm, Matrix, Bias } kind;  // biases exist only where the architecture has qkv_bias
  Dim cols, rows;    // GGUF order: ne[0] = cols (the input side), ne[1] = rows; a vector has rows One
  const char* hf;    // Hugging Face name after "model.layers.N."
  int hf_permute;    // HF rows un-permuted for the NORM rope: 0 no, 1 by n_head, 2 by n_head_kv
  const Tensor* LayerWeights::*slot;  // where bind_weights puts it
};

// Every tensor of a block, in the order create writes them.
std::span<const LayerTensorInfo> layer_tensors();
const LayerTensorInfo& layer_tensor(LayerPart part);

namespace names {
inline const std::string token_embd = "token_embd.weight";      // [n_embd, n_vocab]; HF model.embed_tokens.weight
inline const std::string output_norm = "output_norm.weight";    // [n_embd]; HF model.norm.weight
inline const std::string output = "output.weight";              // [n_embd, n_vocab]; HF lm_head.weight
inline const std::string rope_freqs = "rope_freqs.weight";      // [n_rot / 2], Llama-3 rope scaling
// "blk.3.attn_q.weight"
std::string layer(int il, LayerPart part);
}  // namespace names

}  // namespace qinfer
