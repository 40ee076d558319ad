// Pre-tokenizers of byte-level BPE vocabularies: the regex sets llama.cpp
// applies per `tokenizer.ggml.pre`, each regex splitting the pieces left by the
// previous one into matches and the gaps between them. The GPT-2 and Llama-3
// patterns use hand-written matchers with llama.cpp's exact behaviour.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qinfer {

enum class PreType {
  kDefault, kLlama3, kDeepseekLlm, kDeepseekCoder, kDeepseek3, kFalcon, kMpt, kStarcoder, kGpt2,
  kRefact, kCommandR, kStablelm2, kQwen2, kOlmo, kDbrx, kSmaug, kPoro, kChatglm4, kViking, kJais,
  kTekken, kSmollm, kCodeshell, kBloom, kGpt3Finnish, kExaone, kChameleon, kMinerva,
};

// The regex sets of a pre-tokenizer, as in tokenizer.json; the GPT-2 and
// Llama-3 patterns are spelled out (the PreType constructor runs them by hand).
std::vector<std::string> pre_regexes(PreType type);

// Maps a `tokenizer.ggml.pre` name ("" = default) as llama.cpp does; false when unknown.
bool pre_type_from_name(const std::string& name, PreType* out);

class PreTokenizer {
 public:
  explicit PreTokenizer(PreType type);
  // Arbitrary regexes, all run by the general engine (no hand-written matchers).
  explicit PreTokenizer(const std::vector<std::string>& regexes);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Splits `text` into words, returned as byte spans [first, second) of `text`.
  std::vector<std::pair<size_t, size_t>> split(std::string_view text) const;

  struct Step;

 private:
  std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace qinfer
