#include "qinfer/tokenizer/tokenizer.h"

#include <algorithm>
#include <queue>

#include "qinfer/core/error.h"
#include "qinfer/tokenizer/pretokenize.h"
#include "qinfer/tokenizer/unicode.h"

namespace qinfer {

namespace {

const std::string kSpace = "\xE2\x96\x81";  // U+2581 '▁'

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

std::string rank_key(std::string_view left, std::string_view right) {
  std::string key;
  key.reserve(left.size() + right.size() + 4);
  const auto n = static_cast<uint32_t>(left.size());
  key.append(reinterpret_cast<const char*>(&n), 4);
  key.append(left);
  key.append(right);
  return key;
}

// isspace() in the C locale, as llama.cpp strips around special tokens.
bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// A piece of the input: raw text (a byte span of the input) or a special token.
struct Fragment {
  int32_t token;  // -1 for raw text
  size_t offset, length;
};

// Symbols of a word during BPE / SPM merging: a linked list over byte spans.
struct Symbol {
  int prev, next;
  size_t offset, length;
};

std::vector<Symbol> split_chars(std::string_view text) {
  std::vector<Symbol> syms;
  size_t off = 0;
  int index = 0;
  while (off < text.size()) {
    const size_t len = std::min(unicode::utf8_len(text[off]), text.size() - off);
    syms.push_back({index - 1, off + len == text.size() ? -1 : index + 1, off, len});
    off += len;
    ++index;
  }
  return syms;
}

bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
         (cp >= 0x2B920 && cp <= 0x2CEAF) ||  // as in HF's code (0x2B820 in the standard)
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

Tokenizer::Tokenizer(VocabData vocab) : vocab_(std::move(vocab)) {
  const size_t n = vocab_.tokens.size();
  if (n == 0) throw Error("tokenizer: empty vocabulary");
  if (n > static_cast<size_t>(INT32_MAX)) throw Error("tokenizer: vocabulary too large");
  if (vocab_.scores.empty()) vocab_.scores.assign(n, 0.0f);
  if (vocab_.types.empty()) vocab_.types.assign(n, kTokNormal);
  if (vocab_.scores.size() != n || vocab_.types.size() != n)
    throw Error("tokenizer: scores / token types do not match the number of tokens");
  for (int32_t* id : {&vocab_.bos, &vocab_.eos, &vocab_.eot, &vocab_.eom, &vocab_.unk, &vocab_.sep, &vocab_.pad,
                      &vocab_.mask, &vocab_.nl})
    if (*id < 0 || static_cast<size_t>(*id) >= n) *id = -1;

  token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    token_to_id_[vocab_.tokens[i]] = static_cast<int32_t>(i);  // a later duplicate wins, as in llama.cpp
    max_token_len_ = std::max(max_token_len_, vocab_.tokens[i].size());
  }
  if (vocab_.kind == VocabKind::kBpe) {
    bpe_ranks_.reserve(vocab_.merges.size());
    for (size_t i = 0; i < vocab_.merges.size(); ++i) {
      const std::string& m = vocab_.merges[i];
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) continue;
      bpe_ranks_.emplace(rank_key(std::string_view(m).substr(0, sp), std::string_view(m).substr(sp + 1)),
                         static_cast<int32_t>(i));
    }
    PreType pt = PreType::kDefault;
    if (!pre_type_from_name(vocab_.pre, &pt)) throw Error("tokenizer: unknown pre-tokenizer '" + vocab_.pre + "'");
    pre_ = std::make_unique<PreTokenizer>(pt);
  }

  for (size_t i = 0; i < n; ++i) {
    const int32_t t = vocab_.types[i];
    if (t == kTokControl || t == kTokUserDefined || t == kTokUnknown) special_tokens_.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(), [&](int32_t a, int32_t b) {
    return vocab_.tokens[a].size() > vocab_.tokens[b].size();
  });

  eog_.assign(n, false);
  for (int32_t id : vocab_.eog)
    if (id >= 0 && static_cast<size_t>(id) < n) eog_[id] = true;

  pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) pieces_[i] = make_piece(static_cast<int32_t>(i));

  if (vocab_.nl < 0) {
    if (vocab_.kind == VocabKind::kSpm) {
      std::vector<int32_t> ids;
      push_byte('\n', ids);
      vocab_.nl = ids.empty() ? vocab_.pad : ids[0];
    } else if (vocab_.kind == VocabKind::kBpe) {
      const auto ids = encode("\xC4\x8A", false, false);  // what llama.cpp asks for
      vocab_.nl = ids.empty() ? vocab_.pad : ids[0];
    } else {
      vocab_.nl = vocab_.pad;
    }
  }
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

bool Tokenizer::is_eog(int32_t id) const { return id >= 0 && id < n_vocab() && eog_[id]; }

bool Tokenizer::is_control(int32_t id) const { return id >= 0 && id < n_vocab() && vocab_.types[id] == kTokControl; }

int32_t Tokenizer::token_id(std::string_view text) const {
  auto it = token_to_id_.find(std::string(text));
  return it == token_to_id_.end() ? -1 : it->second;
}

int Tokenizer::bpe_rank(std::string_view left, std::string_view right) const {
  auto it = bpe_ranks_.find(rank_key(left, right));
  return it == bpe_ranks_.end() ? -1 : it->second;
}

bool Tokenizer::push_byte(uint8_t byte, std::vector<int32_t>& out) const {
  static const char* hex = "0123456789ABCDEF";
  const char buf[7] = {'<', '0', 'x', hex[byte >> 4], hex[byte & 15], '>', 0};
  auto it = token_to_id_.find(buf);
  if (it == token_to_id_.end()) it = token_to_id_.find(std::string(1, static_cast<char>(byte)));
  if (it == token_to_id_.end()) return false;
  out.push_back(it->second);
  return true;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  // 1. Split out special tokens, longest first, each over the remaining raw fragments.
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t id : special_tokens_) {
    const int32_t type = vocab_.types[id];
    if (!parse_special && (type == kTokControl || type == kTokUnknown)) continue;
    const std::string& st = vocab_.tokens[id];
    const uint8_t strip = vocab_.strip.empty() ? 0 : vocab_.strip[id];
    bool any = false;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0 || f.length < st.size()) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = text.substr(f.offset, f.length);
      size_t pos = 0;
      while (true) {
        const size_t hit = raw.find(st, pos);
        if (hit == std::string_view::npos) break;
        any = true;
        size_t left_end = hit;
        if (strip & kStripLeft)
          while (left_end > pos && is_c_space(raw[left_end - 1])) --left_end;
        if (left_end > pos) next.push_back({-1, f.offset + pos, left_end - pos});
        next.push_back({id, 0, 0});
        pos = hit + st.size();
        if (strip & kStripRight)
          while (pos < raw.size() && is_c_space(raw[pos])) ++pos;
      }
      if (pos < raw.size()) next.push_back({-1, f.offset + pos, raw.size() - pos});
    }
    if (any) frags.swap(next);
  }

  std::vector<int32_t> out;
  switch (vocab_.kind) {
    case VocabKind::kSpm: {
      bool prev_special = true;  // the first fragment gets the space prefix
      if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        std::string t;
        if (vocab_.add_space_prefix && prev_special) t = " ";
        t.append(text.substr(f.offset, f.length));
        replace_all(t, " ", kSpace);
        tokenize_spm(t, out);
        prev_special = false;
      }
      if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
      break;
    }
    case VocabKind::kBpe: {
      if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
      for (const Fragment& f : frags) {
        if (f.token >= 0) out.push_back(f.token);
        else tokenize_bpe(text.substr(f.offset, f.length), out);
      }
      if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
      break;
    }
    case VocabKind::kWpm: {
      if (add_special && vocab_.bos >= 0) out.push_back(vocab_.bos);
      for (const Fragment& f : frags) {
        if (f.token >= 0) out.push_back(f.token);
        else tokenize_wpm(text.substr(f.offset, f.length), out);
      }
      if (add_special && vocab_.sep >= 0) out.push_back(vocab_.sep);
      break;
    }
  }
  return out;
}

void Tokenizer::tokenize_spm(const std::string& text, std::vector<int32_t>& out) const {
  std::vector<Symbol> syms = split_chars(text);
  if (syms.empty()) return;
  struct Bigram {
    int left, right;
    float score;
    size_t size;
  };
  // Highest score first; ties go to the leftmost pair.
  auto lower = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower)> queue(lower);
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const size_t len = syms[l].length + syms[r].length;
    auto it = token_to_id_.find(text.substr(syms[l].offset, len));
    if (it == token_to_id_.end()) return;
    queue.push({l, r, vocab_.scores[it->second], len});
  };
  for (int i = 1; i < static_cast<int>(syms.size()); ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    if (l.length == 0 || r.length == 0 || l.length + r.length != b.size) continue;  // stale
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int i = 0; i != -1; i = syms[i].next) {
    const Symbol& s = syms[i];
    auto it = token_to_id_.find(text.substr(s.offset, s.length));
    if (it != token_to_id_.end()) {
      out.push_back(it->second);
      continue;
    }
    // Byte fallback; a vocabulary without byte tokens gets one unknown token
    // for the symbol (llama.cpp would throw).
    const size_t before = out.size();
    bool all = true;
    for (size_t j = 0; j < s.length && all; ++j) all = push_byte(static_cast<uint8_t>(text[s.offset + j]), out);
    if (!all) {
      out.resize(before);
      if (vocab_.unk >= 0) out.push_back(vocab_.unk);
    }
  }
}

void Tokenizer::tokenize_bpe(std::string_view text, std::vector<int32_t>& out) const {
  struct Bigram {
    int left, right;
    int rank;
    std::string text;
  };
  // Lowest rank first; ties go to the leftmost pair.
  auto lower = [](const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::string word;
  for (const auto& span : pre_->split(text)) {
    word.clear();
    for (size_t i = span.first; i < span.second; ++i) word += unicode::byte_to_unicode(static_cast<uint8_t>(text[i]));
    if (vocab_.ignore_merges) {
      auto it = token_to_id_.find(word);
      if (it != token_to_id_.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    std::vector<Symbol> syms = split_chars(word);
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower)> queue(lower);
    const std::string_view w(word);
    auto sym_text = [&](int i) { return w.substr(syms[i].offset, syms[i].length); };
    auto try_add = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const int rank = bpe_rank(sym_text(l), sym_text(r));
      if (rank < 0) return;
      std::string t(sym_text(l));
      t.append(sym_text(r));
      queue.push({l, r, rank, std::move(t)});
    };
    for (int i = 1; i < static_cast<int>(syms.size()); ++i) try_add(i - 1, i);
    while (!queue.empty()) {
      const Bigram b = queue.top();
      queue.pop();
      Symbol& l = syms[b.left];
      Symbol& r = syms[b.right];
      if (l.length == 0 || r.length == 0) continue;
      if (l.length + r.length != b.text.size() || w.substr(l.offset, l.length + r.length) != b.text) continue;
      l.length += r.length;
      r.length = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }
    for (int i = syms.empty() ? -1 : 0; i != -1; i = syms[i].next) {
      const std::string_view s = sym_text(i);
      auto it = token_to_id_.find(std::string(s));
      if (it != token_to_id_.end()) {
        out.push_back(it->second);
        continue;
      }
      for (char c : s) {  // llama.cpp: each byte of the symbol as a one-char token, if any
        auto bt = token_to_id_.find(std::string(1, c));
        if (bt != token_to_id_.end()) out.push_back(bt->second);
      }
    }
  }
}

void Tokenizer::tokenize_wpm(std::string_view text, std::vector<int32_t>& out) const {
  // Normalize (NFD first code point, lowercase), drop controls, split on
  // whitespace and around punctuation / CJK characters.
  const unicode::Decoded d = unicode::decode_utf8(text);
  std::vector<std::string> words(1);
  for (uint32_t cp : d.cps) {
    cp = unicode::nfd_first(cp);
    const uint8_t f = unicode::flags(cp);
    if (f & unicode::kWhitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == unicode::kReplacement || (f & unicode::kControl)) continue;
    const std::string s = unicode::cp_to_utf8(unicode::to_lower(cp));
    if ((f & unicode::kPunctuation) || (cp < 0x7F && (f & unicode::kSymbol)) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  for (const std::string& word : words) {
    if (word.empty()) continue;
    const std::string w = kSpace + word;
    const size_t n = w.size();
    const size_t start = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool match = false;
      for (size_t j = std::min(n, i + max_token_len_ + 1); j > i; --j) {
        auto it = token_to_id_.find(w.substr(i, j - i));
        if (it != token_to_id_.end()) {
          out.push_back(it->second);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {
        out.resize(start);
        break;
      }
    }
    if (out.size() == start && vocab_.unk >= 0) out.push_back(vocab_.unk);
  }
}

std::string Tokenizer::make_piece(int32_t id) const {
  const std::string& text = vocab_.tokens[id];
  const int32_t type = vocab_.types[id];
  if (type == kTokControl || type == kTokUnknown || type == kTokUserDefined) return text;
  switch (vocab_.kind) {
    case VocabKind::kSpm:
    case VocabKind::kWpm:
      if (type == kTokNormal) {
        std::string s = text;
        replace_all(s, kSpace, " ");
        return s;
      }
      if (type == kTokByte && text.size() == 6 && text.compare(0, 3, "<0x") == 0) {
        const std::string hex = text.substr(3, 2);
        char* end = nullptr;
        const long b = std::strtol(hex.c_str(), &end, 16);
        return std::string(1, static_cast<char>(b & 0xFF));
      }
      return "";
    case VocabKind::kBpe: {
      if (type != kTokNormal) return "";
      // Byte-level text back to bytes; a code point outside the byte map is
      // rendered as llama.cpp does: "[UNK_BYTE_0x<hex of its UTF-8><token>]".
      std::string s;
      const unicode::Decoded d = unicode::decode_utf8(text);
      for (size_t i = 0; i < d.size(); ++i) {
        const int b = unicode::unicode_to_byte(d.cps[i]);
        if (b >= 0) {
          s.push_back(static_cast<char>(b));
          continue;
        }
        static const char* hex = "0123456789abcdef";
        s += "[UNK_BYTE_0x";
        for (char ch : unicode::cp_to_utf8(d.cps[i])) {  // invalid UTF-8 shows as U+FFFD, as in llama.cpp
          const auto c = static_cast<uint8_t>(ch);
          s.push_back(hex[c >> 4]);
          s.push_back(hex[c & 15]);
        }
        s += text + "]";
      }
      return s;
    }
  }
  return "";
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab())
    throw Error("token id " + std::to_string(id) + " is out of range [0, " + std::to_string(n_vocab()) + ")");
  const int32_t type = vocab_.types[id];
  if (!render_special && (type == kTokControl || type == kTokUnknown)) return "";
  return pieces_[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  std::string text;
  bool strip_space = vocab_.add_space_prefix;
  for (int32_t id : ids) {
    const std::string piece = token_to_piece(id, render_special);
    size_t skip = (strip_space && !piece.empty() && piece[0] == ' ') ? 1 : 0;
    text.append(piece, skip, std::string::npos);
    strip_space = false;
  }
  if (!vocab_.clean_spaces || text.size() < 2) return text;

  // llama.cpp's three passes: " ?" " !" " ." " ," -> no space; " ' " -> "'";
  // " 's" " 'm" " 're" " 've" -> no space.
  std::string a;
  a.push_back(text[0]);
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) a.pop_back();
    a.push_back(x);
  }
  std::string b;
  if (!a.empty()) b.push_back(a[0]);
  for (size_t i = 1; i < a.size(); ++i) {
    const char x = a[i];
    if (x == '\'' && i + 1 < a.size() && a[i - 1] == ' ' && a[i + 1] == ' ') {
      b.pop_back();     // the space before
      a[i + 1] = '\0';  // the space after is dropped (llama.cpp leaves a NUL in its buffer)
      b.push_back(x);
      ++i;
      continue;
    }
    b.push_back(x);
  }
  std::string c;
  if (!b.empty()) c.push_back(b[0]);
  for (size_t i = 1; i < b.size(); ++i) {
    const char x = b[i];
    if (b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      if (x1 == 's' || x1 == 'm') c.pop_back();
      else if (i + 2 < b.size() && ((x1 == 'r' && b[i + 2] == 'e') || (x1 == 'v' && b[i + 2] == 'e'))) c.pop_back();
    }
    c.push_back(x);
  }
  return c;
}

}  // namespace qinfer
