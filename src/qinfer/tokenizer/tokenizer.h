// Text <-> token ids, matching llama.cpp's llama_tokenize / llama_token_to_piece
// / llama_detokenize id for id and byte for byte:
//  - special-token partitioning first (user-defined tokens always, control and
//    unknown tokens only with parse_special), dropping the spaces a token's
//    lstrip/rstrip attribute swallows (phi-3, jina, modern-bert), then per
//    text fragment
//  - spm ("llama"): SentencePiece BPE by score, '▁' for spaces, space prefix,
//    byte fallback through <0xXX> tokens
//  - bpe ("gpt2"): regex pre-tokenizer, GPT-2 byte-to-unicode, merges by rank
//  - wpm ("bert"): lowercase + NFD + punctuation split, greedy longest match.
// Any input bytes are accepted (invalid UTF-8 included); nothing aborts.
// Deliberate differences from llama.cpp, only for inputs it cannot handle:
//  - bpe: an invalid UTF-8 byte is classified as U+FFFD by the pre-tokenizer
//    (as llama.cpp does) but keeps its own byte, so pieces round-trip.
//  - spm: a vocabulary without <0xXX> tokens emits the unknown token for a
//    character it cannot spell (llama.cpp throws).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qinfer/tokenizer/vocab.h"

namespace qinfer {

class PreTokenizer;

class Tokenizer {
 public:
  // Throws Error when the vocabulary is inconsistent (array sizes differ).
  explicit Tokenizer(VocabData vocab);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // add_special: BOS/EOS per the vocab's add_bos/add_eos (wpm: [CLS] .. [SEP]).
  // parse_special: control/unknown token texts in `text` become their ids.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes of one token. render_special = false gives "" for control and
  // unknown tokens. Throws Error for ids out of range.
  std::string token_to_piece(int32_t id, bool render_special = true) const;

  // llama_detokenize(remove_special = false, unparse_special = render_special):
  // pieces concatenated, the first piece's leading space dropped when the
  // vocab adds a space prefix, and clean_spaces rules applied when enabled.
  std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

  int32_t n_vocab() const { return static_cast<int32_t>(vocab_.size()); }
  int32_t bos() const { return vocab_.bos; }
  int32_t eos() const { return vocab_.eos; }
  int32_t eot() const { return vocab_.eot; }
  int32_t nl() const { return vocab_.nl; }
  // False for ids out of range.
  bool is_eog(int32_t id) const;
  bool is_control(int32_t id) const;
  // The id whose text is exactly `text`, or -1.
  int32_t token_id(std::string_view text) const;

  const VocabData& vocab() const { return vocab_; }

 private:
  void tokenize_spm(const std::string& text, std::vector<int32_t>& out) const;
  void tokenize_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void tokenize_wpm(std::string_view text, std::vector<int32_t>& out) const;
  // Appends the <0xXX> (or one-byte) token of `byte`; false when there is none.
  bool push_byte(uint8_t byte, std::vector<int32_t>& out) const;
  int bpe_rank(std::string_view left, std::string_view right) const;
  std::string make_piece(int32_t id) const;

  VocabData vocab_;
  std::unordered_map<std::string, int32_t> token_to_id_;
  std::unordered_map<std::string, int32_t> bpe_ranks_;
  std::vector<int32_t> special_tokens_;  // control / user-defined / unknown, longest text first
  std::vector<std::string> pieces_;      // token_to_piece(id, true)
  std::vector<bool> eog_;
  std::unique_ptr<PreTokenizer> pre_;
  size_t max_token_len_ = 0;
};

}  // namespace qinfer
