// The "<arch>.*" hyper-parameter keys of a GGUF file ↔ ModelConfig: one
// codec, so that the loader reads exactly what create and convert write.
//
//   key (after "<arch>.")                 ModelConfig              on read when absent
//   context_length                        n_ctx_train              2048
//   embedding_length                      n_embd                   required
//   block_count                           n_layer                  required
//   feed_forward_length                   n_ff                     required
//   attention.head_count                  n_head                   required
//   attention.head_count_kv               n_head_kv                n_head
//   attention.key_length (= value_length) head_dim                 n_embd / n_head
//   attention.layer_norm_rms_epsilon      norm_eps                 1e-5
//   rope.dimension_count                  rope.n_rot               head_dim
//   rope.freq_base                        rope.freq_base           10000
//   rope.scaling.type / .factor           rope.scaling, scaling_factor, freq_scale
//   rope.scaling.original_context_length  rope.n_ctx_orig          n_ctx_train
//   rope.scaling.attn_factor, yarn_beta_* YaRN parameters
//   vocab_size                            n_vocab                  the tokenizer's size
// general.architecture and general.name are read here too; general.file_type
// is the writer's (model/file_types.h). Llama-3 rope scaling is carried by
// the rope_freqs.weight tensor, not by keys (as llama.cpp writes it).
#pragma once

#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
#include "qinfer/model/config.h"

namespace qinfer {

// InputError naming the file and the key for a missing, out-of-range or
// unsupported value (an unknown architecture included).
ModelConfig read_gguf_hparams(const GgufFile& file, int n_vocab_tokenizer);

// Which optional keys to write. convert_hf_to_gguf.py writes a key only when
// config.json gives it (LlamaModel adds vocab_size and rope.dimension_count,
// Qwen2Model does not), and the converter mirrors that; create writes all.
struct HparamKeys {
  bool context_length = true;
  bool head_count_kv = true;
  bool rope_freq_base = true;
  bool norm_eps = true;
  bool head_dim = false;  // attention.key_length and value_length
  bool vocab_size = true;
  bool rope_dimension_count = true;
};

// block_count, context_length, embedding_length, feed_forward_length,
// head_count, head_count_kv, rope.freq_base, rms epsilon, key/value_length,
// vocab_size, rope.dimension_count, then rope scaling (linear, YaRN): in
// convert_hf_to_gguf.py's order.
void write_gguf_hparams(GgufWriter& w, const ModelConfig& c, const HparamKeys& keys = {});

}  // namespace qinfer
