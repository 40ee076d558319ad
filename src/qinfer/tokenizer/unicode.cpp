#include "qinfer/tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace qinfer::unicode {

uint8_t flags(uint32_t cp) {
  using unicode_data::kFlagRanges;
  using unicode_data::kFlagRangesSize;
  if (cp >= 0x110000) return 0;
  // Last range whose first code point is <= cp.
  size_t lo = 0, hi = kFlagRangesSize;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (kFlagRanges[mid].first <= cp) lo = mid; else hi = mid;
  }
  return kFlagRanges[lo].flags;
}

static uint32_t lookup_pair(const unicode_data::CodepointPair* table, size_t n, uint32_t cp) {
  const auto* end = table + n;
  const auto* it = std::lower_bound(table, end, cp,
                                    [](const unicode_data::CodepointPair& p, uint32_t v) { return p.from < v; });
  return (it != end && it->from == cp) ? it->to : cp;
}

uint32_t to_lower(uint32_t cp) {
  if (cp < 128) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return lookup_pair(unicode_data::kLowercase, unicode_data::kLowercaseSize, cp);
}

uint32_t nfd_first(uint32_t cp) {
  if (cp < 128) return cp;
  return lookup_pair(unicode_data::kNfd, unicode_data::kNfdSize, cp);
}

Decoded decode_utf8(std::string_view s) {
  Decoded d;
  d.cps.reserve(s.size());
  d.offsets.reserve(s.size() + 1);
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
  while (i < n) {
    d.offsets.push_back(static_cast<uint32_t>(i));
    const uint8_t b = p[i];
    uint32_t cp = kReplacement;
    size_t len = 1;
    // Same acceptance rules as llama.cpp (lead byte + continuation bytes; no
    // overlong or surrogate checks); anything else is one replacement char.
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0x40) == 0) {
      // stray continuation byte
    } else if ((b & 0x20) == 0) {
      if (cont(1)) { cp = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu); len = 2; }
    } else if ((b & 0x10) == 0) {
      if (cont(1) && cont(2)) {
        cp = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
        len = 3;
      }
    } else if ((b & 0x08) == 0) {
      if (cont(1) && cont(2) && cont(3)) {
        cp = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
        len = 4;
      }
    }
    d.cps.push_back(cp);
    i += len;
  }
  d.offsets.push_back(static_cast<uint32_t>(n));
  return d;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    append_utf8(out, kReplacement);
  }
}

std::string cp_to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

namespace {
// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100.. in byte order.
struct ByteMap {
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 512> from_cp;
  ByteMap() {
    from_cp.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + next++);
      to_utf8[b] = cp_to_utf8(cp);
      from_cp[cp] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}
}  // namespace

const std::string& byte_to_unicode(uint8_t b) { return byte_map().to_utf8[b]; }

int unicode_to_byte(uint32_t cp) { return cp < 512 ? byte_map().from_cp[cp] : -1; }

}  // namespace qinfer::unicode
