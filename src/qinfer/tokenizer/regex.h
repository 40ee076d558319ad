// A small backtracking regex engine over code points, enough for the
// pre-tokenizer patterns of Hugging Face / llama.cpp tokenizers, with
// ECMAScript (std::regex) semantics: leftmost match, ordered alternation,
// greedy or lazy quantifiers, lookahead.
//
// Supported: literals, '.', classes [...] / [^...] with ranges, \p{L} \p{N}
// \p{P} \p{S} \p{M} \p{Z} \p{C}, \s \S \d \D \w \W, escapes \r \n \t \f \v,
// groups (...) (?:...), lookahead (?=...) (?!...), anchors ^ $, quantifiers
// * + ? {n} {n,} {n,m} (optionally lazy with a trailing ?). \s is Unicode
// White_Space, \d and \w are ASCII (as std::regex in the C locale). Anything
// else throws qinfer::Error at construction.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace qinfer {

class Regex {
 public:
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Searches cps[begin, end) for the leftmost match starting at or after
  // `from`; the subject ends at `end` (so $ and lookahead stop there).
  bool search(const uint32_t* cps, size_t begin, size_t end, size_t from, size_t* match_begin,
              size_t* match_end) const;

  struct Node;

 private:
  std::vector<std::unique_ptr<Node>> nodes_;  // arena; nodes_[root_] is the root
  size_t root_ = 0;
};

}  // namespace qinfer
