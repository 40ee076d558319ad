// config.json of a Hugging Face checkpoint as read: what it says and what it
// leaves out (convert_hf_to_gguf.py writes a key only when config.json has
// it). model_config() turns it into the ModelConfig that GGUF's codec writes.
// Field names and fallbacks follow llama.cpp's convert_hf_to_gguf.py.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/model/config.h"
#include "qinfer/model/gguf_hparams.h"

namespace qinfer {

enum class HfArch { Llama, Qwen2 };

struct HfRopeScaling {
  std::string type;  // "" (none), "linear", "yarn", "llama3"
  double factor = 1.0;
  int64_t original_context = 0;  // yarn: rope_scaling.original_max_position_embeddings
  double low_freq_factor = 1.0;  // llama3
  double high_freq_factor = 4.0; // llama3
  // llama3: the top-level original_max_position_embeddings, 8192 when absent
  // (convert_hf_to_gguf.py reads it there, not from rope_scaling).
  int64_t llama3_original_context = 8192;
};

struct HfConfig {
  std::string path;          // config.json, for messages
  std::string architecture;  // "LlamaForCausalLM", ...
  HfArch arch = HfArch::Llama;
  std::string gguf_arch;     // "llama" / "qwen2"

  int64_t n_layer = 0;
  std::optional<int64_t> n_ctx, n_embd, n_ff, n_head, n_head_kv, head_dim;
  std::optional<int64_t> vocab_size;
  std::optional<double> rope_theta, rms_norm_eps;
  HfRopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  // config.json's <type>_token_id for bos, eos, unk, sep, pad, cls, mask (when integers).
  std::vector<std::pair<std::string, int64_t>> special_ids;

  int64_t embd() const { return n_embd.value_or(0); }
  int64_t heads() const { return n_head.value_or(0); }
  int64_t heads_kv() const { return n_head_kv.value_or(heads()); }
  int64_t head_size() const { return head_dim ? *head_dim : (heads() > 0 ? embd() / heads() : 0); }
};

// The model config.json describes (n_vocab: the tokenizer's size), and which
// of the optional GGUF keys convert_hf_to_gguf.py writes for it.
ModelConfig model_config(const HfConfig& c, int64_t n_vocab);
HparamKeys hparam_keys(const HfConfig& c);

// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages.
std::string supported_hf_architectures();

// Reads <dir>/config.json; an unsupported architecture, a missing or
// ill-typed field is an InputError naming config.json and the field.
HfConfig read_hf_config(const std::string& dir);

}  // namespace qinfer
