// Which type each tensor gets: llama.cpp b4748's llama_tensor_get_type and the
// "quantize this tensor at all?" test of llama_model_quantize_impl, as data
// (rules in tensor_policy.cpp) plus the layer counters those rules read.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/quant/type_id.h"
#include "qinfer/model/file_types.h"

namespace qinfer {

struct PolicyOptions {
  std::optional<TypeId> output_type;      // --output-tensor-type (also --keep-output-f16)
  std::optional<TypeId> token_embd_type;  // --token-embedding-type
  bool quantize_output = true;            // false: --leave-output-tensor
  bool pure = false;                      // --pure: every tensor gets the base type
  bool has_imatrix = false;               // some ffn_down rules depend on it
};

// What the rules need to know about the model (from the GGUF metadata).
struct ModelShape {
  std::string arch;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int n_gqa() const { return n_head_kv > 0 ? n_head / n_head_kv : 0; }
};

struct PolicyTensor {
  std::string name;
  int64_t ne[4] = {1, 1, 1, 1};
  TypeId type = TypeId::F32;  // type in the input file
};

struct TensorChoice {
  TypeId type;             // type in the output file
  bool convert = false;    // false: bytes are copied unchanged
  bool fallback = false;   // the rule's type did not fit the row length
  std::string note;        // why a fallback happened, for the log
};

class TensorPolicy {
 public:
  // `names`: every tensor name of the model (counts attn_v tensors, finds
  // output.weight). Throws InputError for models whose rules are not
  // implemented (Falcon, mixture-of-experts).
  TensorPolicy(const FileTypeInfo& ft, const ModelShape& shape, const PolicyOptions& opts,
               const std::vector<std::string>& names);

  // Must be called once per tensor in llama-quantize's order (see
  // llama_tensor_order): the rules count attn_v and ffn_down tensors.
  TensorChoice choose(const PolicyTensor& t);

  int n_fallback() const { return n_fallback_; }

 private:
  TypeId rule_type(const PolicyTensor& t, TypeId type);

  const FileTypeInfo& ft_;
  ModelShape shape_;
  PolicyOptions opts_;
  bool has_output_ = false;
  int n_attention_wv_ = 0;
  int i_attention_wv_ = 0;
  int i_ffn_down_ = 0;
  int n_fallback_ = 0;
};

// llama.cpp's tensor order (llama_model_loader's weights_map): tensors
// outside blk.N first, then by layer number; by name within each group.
bool llama_tensor_less(const std::string& a, const std::string& b);

// ggml_n_dims: dimensions up to the last one larger than 1 (at least 1).
int ggml_n_dims(const int64_t ne[4]);

}  // namespace qinfer
