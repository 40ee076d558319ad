#include "qinfer/jinja/unicode.h"

#include <algorithm>

namespace qinfer::jinja {

using namespace unicode_data;

uint16_t unicode_flags(char32_t cp) {
  const FlagRange* end = kFlagRanges + kFlagRangeCount;
  const FlagRange* it = std::upper_bound(kFlagRanges, end, uint32_t(cp),
                                         [](uint32_t v, const FlagRange& r) { return v < r.start; });
  return it == kFlagRanges ? 0 : (it - 1)->flags;
}

namespace {

const CaseMapping* find_mapping(const CaseMapping* table, size_t n, char32_t cp) {
  const CaseMapping* end = table + n;
  const CaseMapping* it =
      std::lower_bound(table, end, uint32_t(cp), [](const CaseMapping& m, uint32_t v) { return m.cp < v; });
  return it != end && it->cp == cp ? it : nullptr;
}

void append_mapped(std::string& out, const CaseMapping* table, size_t n, char32_t cp) {
  if (cp < 0x80 && table == kUpperMap) {
    out += char(cp >= 'a' && cp <= 'z' ? cp - 32 : cp);
    return;
  }
  if (cp < 0x80 && table == kLowerMap) {
    out += char(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  const CaseMapping* m = find_mapping(table, n, cp);
  if (!m) {
    append_utf8(out, cp);
    return;
  }
  for (uint32_t c : m->to)
    if (c) append_utf8(out, c);
}

void append_upper(std::string& out, char32_t cp) { append_mapped(out, kUpperMap, kUpperMapCount, cp); }
void append_title(std::string& out, char32_t cp) { append_mapped(out, kTitleMap, kTitleMapCount, cp); }

// Python's lower_ucs4: the final-sigma rule for U+03A3, else the full lower mapping.
void append_lower(std::string& out, const std::u32string& s, size_t i) {
  const char32_t c = s[i];
  if (c != 0x3A3) {
    append_mapped(out, kLowerMap, kLowerMapCount, c);
    return;
  }
  size_t j = i;
  char32_t prev = 0;
  bool found = false;
  while (j > 0) {
    prev = s[--j];
    if (!(unicode_flags(prev) & kCaseIgnorable)) {
      found = true;
      break;
    }
  }
  bool final_sigma = found && (unicode_flags(prev) & kCased);
  if (final_sigma) {
    for (size_t k = i + 1; k < s.size(); ++k) {
      if (unicode_flags(s[k]) & kCaseIgnorable) continue;
      final_sigma = !(unicode_flags(s[k]) & kCased);
      break;
    }
  }
  append_utf8(out, final_sigma ? 0x3C2 : 0x3C3);
}

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    size_t n;
    char32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if ((cp >= 0xD800 && cp < 0xE000) || cp > 0x10FFFF) return false;
    i += n + 1;
  }
  return true;
}

char32_t decode_one(std::string_view s, size_t& pos) {
  const unsigned char c = s[pos];
  size_t n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
  if (n == 0 || pos + n >= s.size()) {
    ++pos;
    return c;
  }
  char32_t cp = c & (0x7F >> (n + 1));
  for (size_t k = 1; k <= n; ++k) {
    const unsigned char cc = s[pos + k];
    if ((cc & 0xC0) != 0x80) {
      ++pos;
      return c;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  pos += n + 1;
  return cp;
}

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out += decode_one(s, i);
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    decode_one(s, i);
    ++n;
  }
  return n;
}

std::string str_upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) append_upper(out, decode_one(s, i));
  return out;
}

std::string str_lower(std::string_view s) {
  if (is_ascii(s)) {
    std::string out(s);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = char(c + 32);
    return out;
  }
  const std::u32string u = to_u32(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < u.size(); ++i) append_lower(out, u, i);
  return out;
}

std::string str_title(std::string_view s) {
  const std::u32string u = to_u32(s);
  std::string out;
  out.reserve(s.size());
  bool previous_is_cased = false;
  for (size_t i = 0; i < u.size(); ++i) {
    if (previous_is_cased) append_lower(out, u, i);
    else append_title(out, u[i]);
    previous_is_cased = unicode_flags(u[i]) & kCased;
  }
  return out;
}

std::string str_capitalize(std::string_view s) {
  const std::u32string u = to_u32(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < u.size(); ++i) {
    if (i == 0) append_title(out, u[i]);
    else append_lower(out, u, i);
  }
  return out;
}

std::string str_swapcase(std::string_view s) {
  const std::u32string u = to_u32(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < u.size(); ++i) {
    const uint16_t f = unicode_flags(u[i]);
    if (f & kUpper) append_lower(out, u, i);
    else if (f & kLower) append_upper(out, u[i]);
    else append_utf8(out, u[i]);
  }
  return out;
}

bool str_islower(std::string_view s) {
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint16_t f = unicode_flags(decode_one(s, i));
    if (f & (kUpper | kTitle)) return false;
    if (f & kLower) cased = true;
  }
  return cased;
}

bool str_isupper(std::string_view s) {
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint16_t f = unicode_flags(decode_one(s, i));
    if (f & (kLower | kTitle)) return false;
    if (f & kUpper) cased = true;
  }
  return cased;
}

bool str_istitle(std::string_view s) {
  bool cased = false, previous_is_cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint16_t f = unicode_flags(decode_one(s, i));
    if (f & (kUpper | kTitle)) {
      if (previous_is_cased) return false;
      previous_is_cased = cased = true;
    } else if (f & kLower) {
      if (!previous_is_cased) return false;
      previous_is_cased = cased = true;
    } else {
      previous_is_cased = false;
    }
  }
  return cased;
}

bool str_all(std::string_view s, uint16_t flags) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();)
    if (!(unicode_flags(decode_one(s, i)) & flags)) return false;
  return true;
}

}  // namespace qinfer::jinja
