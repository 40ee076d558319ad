// Hyper-parameters of a decoder-only transformer, independent of file format.
#pragma once
#include <cstdint>
#include <string>

namespace qinfer {

// Rotary embedding: NORM rotates adjacent pairs (x[2i], x[2i+1]) as Meta's
// original weights (and llama2.c) expect; NEOX rotates (x[i], x[i + n_rot/2])
// as Hugging Face's Qwen2 does.
enum class RopeLayout { Norm, Neox };

enum class RopeScaling { None, Linear, Yarn, Llama3 };

struct RopeParams {
  RopeLayout layout = RopeLayout::Norm;
  int n_rot = 0;                // rotated dimensions per head
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;      // 1 / linear scaling factor
  RopeScaling scaling = RopeScaling::None;
  // YaRN / Llama-3 parameters (as in GGUF rope.scaling.*).
  float scaling_factor = 1.0f;
  int n_ctx_orig = 0;
  float yarn_ext_factor = 0.0f;
  float yarn_attn_factor = 1.0f;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  float llama3_low_freq_factor = 1.0f;
  float llama3_high_freq_factor = 4.0f;
};

struct ModelConfig {
  std::string arch;          // "llama", "qwen2"
  std::string name;
  int n_vocab = 0;
  int n_ctx_train = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int n_ff = 0;
  int head_dim = 0;          // n_embd / n_head unless the file says otherwise
  float norm_eps = 1e-5f;
  RopeParams rope;
  bool qkv_bias = false;
  bool tied_embeddings = false;  // no output.weight: the classifier is token_embd

  int kv_dim() const { return head_dim * n_head_kv; }
  int q_dim() const { return head_dim * n_head; }
};

// A config given by its shape (arch, sizes, rope base, eps; head_dim and
// rope.n_rot 0 meaning "the default"), with the fields that follow from it
// filled: head_dim = n_embd / n_head, rope.n_rot = head_dim, the rope layout
// and qkv_bias of the architecture. Unknown architectures are left as they are.
ModelConfig complete_config(ModelConfig c);

}  // namespace qinfer
