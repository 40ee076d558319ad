// Unicode helpers for the tokenizers: code point flags (the \p{..} groups that
// pre-tokenizer regexes use, plus White_Space), lenient UTF-8 decoding that
// never throws, lowercase/NFD first-code-point maps, and GPT-2's byte-level
// byte <-> code point mapping. Tables come from scripts/gen_unicode_tables.py.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qinfer {

namespace unicode_data {
struct FlagRange {
  uint32_t first;
  uint8_t flags;
};
struct CodepointPair {
  uint32_t from;
  uint32_t to;
};
extern const FlagRange kFlagRanges[];
extern const size_t kFlagRangesSize;
extern const CodepointPair kLowercase[];
extern const size_t kLowercaseSize;
extern const CodepointPair kNfd[];
extern const size_t kNfdSize;
}  // namespace unicode_data

namespace unicode {

// Flag bits (general-category group of a code point; \p{C} includes unassigned).
enum : uint8_t {
  kNumber = 1,       // \p{N}
  kLetter = 2,       // \p{L}
  kSeparator = 4,    // \p{Z}
  kMark = 8,         // \p{M}
  kPunctuation = 16, // \p{P}
  kSymbol = 32,      // \p{S}
  kControl = 64,     // \p{C}
  kWhitespace = 128, // \s (White_Space)
};

// Flags of a code point; 0 for values past U+10FFFF.
uint8_t flags(uint32_t cp);
uint32_t to_lower(uint32_t cp);
// First code point of the canonical decomposition (what llama.cpp's WPM uses).
uint32_t nfd_first(uint32_t cp);

// Number of bytes a UTF-8 sequence starting with `lead` claims (1 for stray
// continuation bytes), as llama.cpp's unicode_len_utf8.
inline size_t utf8_len(char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(lead) >> 4];
}

constexpr uint32_t kReplacement = 0xFFFD;

// Text decoded to code points, with the byte offset where each one starts
// (offsets has size() + 1 entries). An invalid byte becomes U+FFFD covering that
// one byte, so the original bytes of any span can always be recovered.
struct Decoded {
  std::vector<uint32_t> cps;
  std::vector<uint32_t> offsets;
  size_t size() const { return cps.size(); }
};
Decoded decode_utf8(std::string_view text);

void append_utf8(std::string& out, uint32_t cp);
std::string cp_to_utf8(uint32_t cp);

// GPT-2 byte-level mapping: byte -> UTF-8 of its printable stand-in code point.
const std::string& byte_to_unicode(uint8_t b);
// Inverse: code point -> byte, or -1 when the code point is not a stand-in.
int unicode_to_byte(uint32_t cp);

}  // namespace unicode
}  // namespace qinfer
