// The Unicode facts behind Python's str methods (case mapping, isspace,
// isprintable, ...) over UTF-8 strings. Tables: unicode_tables.cpp, generated
// by scripts/gen_jinja_unicode.py from Python's unicodedata.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qinfer::jinja {

namespace unicode_data {
struct FlagRange {
  uint32_t start;
  uint16_t flags;
};
struct CaseMapping {
  uint32_t cp;
  uint32_t to[3];  // 0-terminated when shorter
};
extern const FlagRange kFlagRanges[];
extern const size_t kFlagRangeCount;
extern const CaseMapping kUpperMap[], kLowerMap[], kTitleMap[];
extern const size_t kUpperMapCount, kLowerMapCount, kTitleMapCount;
}  // namespace unicode_data

enum UnicodeFlag : uint16_t {
  kAlpha = 1 << 0,
  kDecimal = 1 << 1,
  kDigit = 1 << 2,
  kNumeric = 1 << 3,
  kSpace = 1 << 4,
  kPrintable = 1 << 5,
  kLower = 1 << 6,
  kUpper = 1 << 7,
  kTitle = 1 << 8,
  kCased = 1 << 9,
  kCaseIgnorable = 1 << 10,
};

uint16_t unicode_flags(char32_t cp);
inline bool is_space(char32_t cp) { return cp < 0x80 ? (cp == ' ' || (cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x1f)) : (unicode_flags(cp) & kSpace) != 0; }
inline bool is_alnum(char32_t cp) { return (unicode_flags(cp) & (kAlpha | kDecimal | kDigit | kNumeric)) != 0; }
// Python's \w in a str pattern.
inline bool is_word(char32_t cp) { return cp == '_' || is_alnum(cp); }

// UTF-8. Strings inside the renderer are valid UTF-8 (sources are checked on the
// way in); decoding still never reads past the end, taking a stray byte as itself.
bool valid_utf8(std::string_view s);
char32_t decode_one(std::string_view s, size_t& pos);
std::u32string to_u32(std::string_view s);
std::string to_utf8(std::u32string_view s);
void append_utf8(std::string& out, char32_t cp);
size_t utf8_length(std::string_view s);
inline bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// Python's str.upper(), lower() (with the final-sigma rule), title(),
// capitalize() and swapcase(), with full (multi-character) mappings.
std::string str_upper(std::string_view s);
std::string str_lower(std::string_view s);
std::string str_title(std::string_view s);
std::string str_capitalize(std::string_view s);
std::string str_swapcase(std::string_view s);
// Python's str.islower(), isupper(), istitle(): over the cased characters.
bool str_islower(std::string_view s);
bool str_isupper(std::string_view s);
bool str_istitle(std::string_view s);
// True when s is non-empty and every character has one of the flags.
bool str_all(std::string_view s, uint16_t flags);

}  // namespace qinfer::jinja
