// Everything a tokenizer needs, independent of the file it came from: the
// token table, merges, special ids and the flags that change tokenization.
// Loaders fill it with llama.cpp's defaults (llama-vocab.cpp `load`), so the
// same GGUF tokenizes to the same ids here and in llama.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qinfer {

class GgufFile;

enum class VocabKind {
  kSpm,  // tokenizer.ggml.model = "llama": SentencePiece BPE with byte fallback
  kBpe,  // "gpt2": byte-level BPE with a regex pre-tokenizer
  kWpm,  // "bert": WordPiece
};

// tokenizer.ggml.token_type values.
enum TokenType : int32_t {
  kTokUndefined = 0,
  kTokNormal = 1,
  kTokUnknown = 2,
  kTokControl = 3,
  kTokUserDefined = 4,
  kTokUnused = 5,
  kTokByte = 6,
};

// Whitespace a special token swallows next to it (llama.cpp's LSTRIP / RSTRIP
// token attributes), bits of VocabData::strip.
enum TokenStrip : uint8_t {
  kStripLeft = 1,   // spaces before the token are dropped
  kStripRight = 2,  // spaces after the token are dropped
};

struct VocabData {
  VocabKind kind = VocabKind::kSpm;
  std::string model;  // tokenizer.ggml.model as written ("llama", "gpt2", "bert")
  std::string pre;    // tokenizer.ggml.pre ("" when absent = default)

  std::vector<std::string> tokens;  // id -> text (an empty text becomes "[EMPTY_<id>]")
  std::vector<float> scores;        // id -> score (0 when the file has none)
  std::vector<int32_t> types;       // id -> TokenType
  std::vector<std::string> merges;  // "left right", rank = index (BPE only)

  // Special ids, -1 when absent.
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1, nl = -1;
  // Ids that end generation (eos, eot, eom and tokens such as <|im_end|>).
  std::vector<int32_t> eog;

  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;
  bool remove_extra_whitespaces = false;
  bool clean_spaces = false;   // detokenizer removes " ," " ." etc. (BPE default)
  bool ignore_merges = false;  // a whole pre-token found in the vocab is kept (llama3, tekken)

  std::string chat_template;  // tokenizer.chat_template, "" when absent

  // general.name and general.architecture: llama.cpp sets the strip attributes
  // of some models' tokens by these names (GGUF has no key for them).
  std::string general_name;
  std::string general_arch;
  std::vector<uint8_t> strip;  // id -> TokenStrip bits; empty: none (filled by finalize_special_tokens)

  size_t size() const { return tokens.size(); }
};

// Reads the tokenizer.* keys of a GGUF file. Throws InputError naming the key
// when one is missing or malformed, or the model / pre-tokenizer is unknown.
VocabData vocab_from_gguf(const GgufFile& gguf);

// Reads karpathy's llama2.c tokenizer.bin (int32 max_token_length, then per
// token: float32 score, int32 length, bytes) as a SentencePiece vocabulary.
VocabData vocab_from_llama2c(const std::string& tokenizer_bin_path, int vocab_size);

// Fills eot / eom / eog, marks control-looking tokens as control and sets the
// strip attributes by model name, as llama.cpp does after loading. Both loaders call it; exposed for tests and
// for vocabularies built in memory.
void finalize_special_tokens(VocabData& v);

}  // namespace qinfer
