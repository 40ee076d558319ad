// The tokenizer of a Hugging Face checkpoint as GGUF tokenizer.* metadata,
// built the way convert_hf_to_gguf.py builds it:
//  - tokenizer.model present: SentencePiece → tokenizer.ggml.model "llama",
//    pre "default", pieces / scores / types (+ added_tokens.json and
//    tokenizer_config.json's added_tokens_decoder overrides), padded with
//    [PADi] up to config.json's vocab_size;
//  - otherwise tokenizer.json with a SentencePiece-style BPE (byte_fallback,
//    '▁' for spaces: Llama 2, Mistral, TinyLlama) → "llama" as from
//    tokenizer.model, scores rebuilt from the merge order (spm_json_vocab.cpp);
//  - otherwise tokenizer.json with a byte-level BPE model → "gpt2": vocab +
//    added_tokens (control when special or "<|...|>"-looking, else
//    user-defined), merges in either the "a b" or the ["a", "b"] form, and
//    tokenizer.ggml.pre derived from the pre_tokenizer (see bpe_pre_name);
//  - special ids, add_bos/add_eos and chat_template from tokenizer_config.json
//    (+ tokenizer.json's added_tokens), then config.json's <type>_token_id
//    for the types still unset (gguf-py's SpecialVocab).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "qinfer/convert/hf_config.h"

namespace qinfer {

class GgufWriter;

struct HfVocab {
  std::string model;  // "llama" or "gpt2"
  std::string pre;    // "default" for SentencePiece
  std::vector<std::string> tokens;
  std::vector<float> scores;  // SentencePiece only
  std::vector<int32_t> types;
  std::vector<std::string> merges;  // BPE only
  // ("bos", id) ... in the order they were found; written as tokenizer.ggml.<key>.
  std::vector<std::pair<std::string, uint32_t>> special_ids;
  std::vector<std::pair<std::string, bool>> add_special;  // ("bos", true) → tokenizer.ggml.add_bos_token
  std::optional<std::string> chat_template;
  std::vector<std::pair<std::string, std::string>> named_chat_templates;  // tokenizer.chat_template.<name>
  std::optional<bool> add_space_prefix;  // tokenizer_config.json add_prefix_space (llama only)
};

// Reads tokenizer.model and/or tokenizer.json (+ tokenizer_config.json,
// added_tokens.json) from `dir`. Problems are InputErrors naming the file and field.
HfVocab read_hf_vocab(const std::string& dir, const HfConfig& config);

// Writes the tokenizer.* keys in convert_hf_to_gguf.py's order.
void write_hf_vocab(GgufWriter& w, const HfVocab& v);

// tokenizer.ggml.pre for a tokenizer.json. llama.cpp's converter hashes the
// token ids HF `tokenizers` gives for a fixed test string; we cannot run
// `tokenizers`, so we recognise the pre_tokenizer configuration instead:
//   ByteLevel(use_regex=true) alone                    → "gpt-2"
//   Digits(individual_digits=true) + ByteLevel(regex)  → "starcoder"
//   Split(Llama-3 regex, Isolated) + ByteLevel(no regex) → "llama-bpe"
//     (or "smaug-bpe" when model.ignore_merges is false: the same split, merges always applied)
//   Split(Qwen2 regex, Isolated) + ByteLevel(no regex) → "qwen2"
// Anything else is an InputError naming tokenizer.json's pre_tokenizer.
// `path` is used in messages.
std::string bpe_pre_name(const nlohmann::json& tokenizer_json, const std::string& path);

// Whether a token text looks like a control token (does_token_look_special).
bool token_looks_special(const std::string& text);

namespace detail {
// Scores convert_hf_to_gguf.py gives [PADi] fillers and added tokens.
inline constexpr float kPadScore = -10000.0f;
inline constexpr float kAddedScore = -1000.0f;

// One id of a tokenizer.json vocabulary.
struct JsonToken {
  std::string text;      // "[PAD<id>]" for an id that nothing names
  bool present = false;  // named by model.vocab or added_tokens
  bool added = false;    // named by added_tokens
  bool special = false;  // an added token with "special": true
};
// model.vocab + added_tokens by id, padded to config.json's vocab_size (bpe_vocab.cpp).
std::vector<JsonToken> read_json_tokens(const nlohmann::json& tokenizer_json, const std::string& path,
                                        const HfConfig& config);
// The tokenizer.json part of read_hf_vocab (bpe_vocab.cpp).
HfVocab read_bpe_vocab(const std::string& dir, const HfConfig& config);
// A byte_fallback BPE tokenizer.json → "llama" (spm_json_vocab.cpp).
HfVocab read_spm_json_vocab(const nlohmann::json& tokenizer_json, const std::string& path, const HfConfig& config);
}  // namespace detail

}  // namespace qinfer
