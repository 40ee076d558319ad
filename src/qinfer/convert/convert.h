// Hugging Face checkpoint directory → GGUF, as llama.cpp's convert_hf_to_gguf.py
// writes it for LlamaForCausalLM (Llama, Mistral, TinyLlama) and
// Qwen2ForCausalLM: the same metadata keys, tensor names, tensor order and
// per-tensor types. Tensors are converted one at a time while the file is
// written (never the whole model in memory), into "<output>.tmp.<pid>" that is
// renamed at the end; on any error no output file is left.
//
// Deliberate differences from convert_hf_to_gguf.py:
//  - general.name is the directory name (or ConvertParams::name); the model
//    card heuristics (basename, size_label, finetune, ...) are not applied;
//  - tokenizer.ggml.pre comes from the pre_tokenizer configuration, not from
//    hashing HF tokenizers' output (see bpe_pre_name in hf_vocab.h);
//  - rope_scaling accepts "rope_type" as well as "type", and linear scaling is
//    written for qwen2 too; unsupported scaling types are errors, not ignored;
//  - lm_head.weight is dropped when tie_word_embeddings is true;
//  - a SentencePiece-style tokenizer.json without tokenizer.model gets scores
//    from its merge order, not LlamaHfVocab's -1000 for every token (which
//    llama.cpp's tokenizer would merge left to right), and its unk_token is
//    UNKNOWN, not CONTROL (see spm_json_vocab.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "qinfer/quant/type_id.h"

namespace qinfer {

struct ConvertParams {
  std::string input_dir;
  std::string output;
  std::string outtype = "f16";  // f32, f16, bf16, q8_0 (llama.cpp's default is f16)
  std::string name;             // general.name; default: the directory name
};

struct ConvertProgress {
  int index = 0, count = 0;
  std::string name;       // GGUF tensor name
  std::string src_dtype;  // "BF16"
  TypeId type = TypeId::F32;
  std::string shape;      // GGUF order, "[64, 512]"
};

struct ConvertSummary {
  std::string arch;       // "llama" / "qwen2"
  std::string vocab;      // "llama" / "gpt2"
  std::string pre;
  int n_tensors = 0;
  int n_vocab = 0;
  uint64_t file_bytes = 0;
};

// Throws InputError naming the file and field on bad input (bad --outtype
// included), before anything is written when the problem is in the metadata.
ConvertSummary convert_hf(const ConvertParams& p,
                          const std::function<void(const ConvertProgress&)>& progress = nullptr);

}  // namespace qinfer
