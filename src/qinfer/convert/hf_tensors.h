// Hugging Face tensor names → GGUF names (the table in gguf-py's
// tensor_mapping.py for LlamaForCausalLM / Qwen2ForCausalLM), with the shape
// each must have per config.json and whether its rows are un-permuted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/convert/hf_config.h"
#include "qinfer/convert/hf_weights.h"

namespace qinfer {

struct HfTensorPlan {
  const StTensor* src = nullptr;
  std::string name;           // GGUF name
  std::vector<int64_t> ne;    // GGUF order (reversed HF shape)
  // > 0: rows are un-permuted from HF's rotate-half layout to the interleaved
  // layout llama.cpp expects, in this many heads (LlamaModel.permute).
  int64_t permute_heads = 0;
};

// Every tensor of `w` in file order, mapped and shape-checked; rotary caches
// are dropped, and lm_head too when config.json ties the embeddings. An
// unknown name, a wrong shape or a missing tensor is an InputError naming the
// safetensors file (or config.json) and the tensor.
std::vector<HfTensorPlan> plan_hf_tensors(const HfWeights& w, const HfConfig& c, int64_t n_vocab);

}  // namespace qinfer
