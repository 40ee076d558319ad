#include "qinfer/jinja/strings.h"

#include "qinfer/jinja/error.h"
#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

namespace {

// Code points of s with their byte offsets (offsets has one more entry: s.size()).
struct Decoded {
  std::u32string cps;
  std::vector<size_t> offsets;
};

Decoded decode(std::string_view s) {
  Decoded d;
  for (size_t i = 0; i < s.size();) {
    d.offsets.push_back(i);
    d.cps += decode_one(s, i);
  }
  d.offsets.push_back(s.size());
  return d;
}

}  // namespace

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const Decoded d = decode(s);
  std::u32string set;
  if (chars) set = to_u32(*chars);
  auto strip_me = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : is_space(c); };
  size_t a = 0, b = d.cps.size();
  if (left)
    while (a < b && strip_me(d.cps[a])) ++a;
  if (right)
    while (b > a && strip_me(d.cps[b - 1])) --b;
  return std::string(s.substr(d.offsets[a], d.offsets[b] - d.offsets[a]));
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) fail(ErrorKind::Value, "empty separator");
    size_t pos = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      const size_t hit = s.find(*sep, pos);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  const Decoded d = decode(s);
  const size_t n = d.cps.size();
  size_t i = 0;
  while (true) {
    while (i < n && is_space(d.cps[i])) ++i;
    if (i == n) break;
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
      size_t end = n;
      while (end > i && is_space(d.cps[end - 1])) --end;
      out.emplace_back(s.substr(d.offsets[i], d.offsets[end] - d.offsets[i]));
      break;
    }
    size_t j = i;
    while (j < n && !is_space(d.cps[j])) ++j;
    out.emplace_back(s.substr(d.offsets[i], d.offsets[j] - d.offsets[i]));
    i = j;
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) fail(ErrorKind::Value, "empty separator");
    size_t end = s.size();
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    out.emplace_back(s.substr(0, end));
    return {out.rbegin(), out.rend()};
  }
  const Decoded d = decode(s);
  size_t j = d.cps.size();
  while (true) {
    while (j > 0 && is_space(d.cps[j - 1])) --j;
    if (j == 0) break;
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
      size_t start = 0;
      while (start < j && is_space(d.cps[start])) ++start;
      out.emplace_back(s.substr(d.offsets[start], d.offsets[j] - d.offsets[start]));
      break;
    }
    size_t i = j;
    while (i > 0 && !is_space(d.cps[i - 1])) --i;
    out.emplace_back(s.substr(d.offsets[i], d.offsets[j] - d.offsets[i]));
    j = i;
  }
  return {out.rbegin(), out.rend()};
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  const Decoded d = decode(s);
  const size_t n = d.cps.size();
  size_t start = 0;
  for (size_t i = 0; i < n;) {
    const char32_t c = d.cps[i];
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
                     c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    size_t eol = i + 1;
    if (c == '\r' && eol < n && d.cps[eol] == '\n') ++eol;
    const size_t stop = keepends ? eol : i;
    out.emplace_back(s.substr(d.offsets[start], d.offsets[stop] - d.offsets[start]));
    start = i = eol;
  }
  if (start < n) out.emplace_back(s.substr(d.offsets[start]));
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  std::string out;
  if (old.empty()) {  // inserts repl before every character and at the end
    const Decoded d = decode(s);
    int64_t done = 0;
    for (size_t i = 0; i < d.cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      out.append(s.substr(d.offsets[i], d.offsets[i + 1] - d.offsets[i]));
    }
    if (count < 0 || done < count) out += repl;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(old, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(repl);
    pos = hit + old.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

std::pair<size_t, size_t> py_span(std::string_view s, std::optional<int64_t> start, std::optional<int64_t> end) {
  const Decoded d = decode(s);
  const int64_t n = int64_t(d.cps.size());
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) x = std::max<int64_t>(0, x + n);
    return std::min(x, n);
  };
  const int64_t a = clamp(start, 0), b = clamp(end, n);
  if (a > b) return {d.offsets[size_t(a)], d.offsets[size_t(a)]};
  return {d.offsets[size_t(a)], d.offsets[size_t(b)]};
}

int64_t py_find(std::string_view s, std::string_view sub, std::optional<int64_t> start, std::optional<int64_t> end,
                bool reverse) {
  const Decoded d = decode(s);
  const int64_t n = int64_t(d.cps.size());
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) x = std::max<int64_t>(0, x + n);
    return std::min(x, n);
  };
  const int64_t a = clamp(start, 0), b = clamp(end, n);
  if (a > b) return -1;
  const std::string_view window = s.substr(d.offsets[size_t(a)], d.offsets[size_t(b)] - d.offsets[size_t(a)]);
  const size_t hit = reverse ? window.rfind(sub) : window.find(sub);
  if (hit == std::string_view::npos) return -1;
  const size_t byte = d.offsets[size_t(a)] + hit;
  // Byte offset -> code point index.
  size_t lo = 0, hi = d.offsets.size() - 1;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (d.offsets[mid] < byte) lo = mid + 1;
    else hi = mid;
  }
  return int64_t(lo);
}

int64_t py_count(std::string_view s, std::string_view sub, std::optional<int64_t> start, std::optional<int64_t> end) {
  const auto [a, b] = py_span(s, start, end);
  const std::string_view window = s.substr(a, b - a);
  if (sub.empty()) return int64_t(utf8_length(window)) + 1;
  int64_t n = 0;
  for (size_t pos = window.find(sub); pos != std::string_view::npos; pos = window.find(sub, pos + sub.size())) ++n;
  return n;
}

std::string py_pad(std::string_view s, int64_t width, std::string_view fill, char align) {
  const int64_t len = int64_t(utf8_length(s));
  if (width <= len) return std::string(s);
  const int64_t marg = width - len;
  int64_t left = align == '<' ? 0 : align == '>' ? marg : marg / 2 + (marg & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < marg - left; ++i) out += fill;
  return out;
}

std::string py_zfill(std::string_view s, int64_t width) {
  const int64_t len = int64_t(utf8_length(s));
  if (width <= len) return std::string(s);
  std::string out(s);
  const size_t at = !out.empty() && (out[0] == '+' || out[0] == '-') ? 1 : 0;
  out.insert(at, size_t(width - len), '0');
  return out;
}

std::string py_expandtabs(std::string_view s, int64_t tabsize) {
  std::string out;
  int64_t col = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const char32_t c = decode_one(s, i);
    if (c == '\t') {
      if (tabsize > 0) {
        const int64_t n = tabsize - col % tabsize;
        out.append(size_t(n), ' ');
        col += n;
      }
    } else {
      out.append(s.substr(start, i - start));
      col = (c == '\n' || c == '\r') ? 0 : col + 1;
    }
  }
  return out;
}

}  // namespace qinfer::jinja
