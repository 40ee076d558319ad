#include "qinfer/jinja/lexer.h"

#include <cstring>

#include "qinfer/jinja/error.h"
#include "qinfer/jinja/pyformat.h"
#include "qinfer/jinja/unicode.h"
#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

namespace {

[[noreturn]] void syntax_error(const std::string& msg, int line) { throw TemplateError(ErrorKind::Syntax, msg, line); }

// Length in bytes of the whitespace code point at s[i], or 0.
size_t space_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  size_t j = i;
  const char32_t c = decode_one(s, j);
  return is_space(c) ? j - i : 0;
}

size_t skip_spaces(std::string_view s, size_t i) {
  while (size_t n = space_at(s, i)) i += n;
  return i;
}

// Python's str.rstrip(): drops trailing whitespace code points.
std::string_view rstrip_spaces(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t j = start;
    if (!is_space(decode_one(s, j)) || j != end) break;
    end = start;
  }
  return s.substr(0, end);
}

// True when s (no newlines) is one or more whitespace characters.
bool all_spaces(std::string_view s) { return !s.empty() && skip_spaces(s, 0) == s.size(); }

int count_newlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

bool starts_with_at(std::string_view s, size_t i, std::string_view what) {
  return i <= s.size() && s.substr(i, what.size()) == what;
}

class Lexer {
 public:
  Lexer(std::string_view src, const LexerOptions& o) : o_(o) {
    // Newlines (\r\n, \r, \n) become \n; one trailing newline goes.
    src_.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\r') {
        src_ += '\n';
        if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
      } else {
        src_ += src[i];
      }
    }
    if (!o_.keep_trailing_newline && !src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Token> run() {
    const std::string_view s = src_;
    while (pos_ < s.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_data(s.substr(pos_), s.size() - pos_);
        pos_ = s.size();
        break;
      }
      const char kind = s[tag + 1];  // '{', '%' or '#'
      size_t after = tag + 2;
      char sign = 0;
      if (after < s.size() && (s[after] == '-' || s[after] == '+')) sign = s[after++];
      size_t raw_end = 0;
      const bool raw = kind == '%' && match_raw_begin(after, raw_end);
      emit_data(strip_before(s.substr(pos_, tag - pos_), sign, kind == '{'), tag - pos_);
      if (raw) {
        line_starting_ = s[raw_end - 1] == '\n';
        line_ += count_newlines(s.substr(tag, raw_end - tag));
        pos_ = raw_end;
        lex_raw();
      } else if (kind == '#') {
        line_ += count_newlines(s.substr(tag, after - tag));
        pos_ = after;
        lex_comment();
      } else {
        pos_ = after;
        lex_tag(kind == '{');
      }
    }
    tokens_.push_back(Token{TokenType::Eof, "", 0, 0, line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1))
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  // After "{%" and its sign: \s* raw \s* (-%}\s* | %}); no trim of a newline.
  bool match_raw_begin(size_t i, size_t& end) const {
    const std::string_view s = src_;
    i = skip_spaces(s, i);
    if (!starts_with_at(s, i, "raw")) return false;
    i = skip_spaces(s, i + 3);
    if (starts_with_at(s, i, "-%}")) {
      end = skip_spaces(s, i + 3);
      return true;
    }
    if (starts_with_at(s, i, "%}")) {
      end = i + 2;
      return true;
    }
    return false;
  }

  // The text before a tag: `-` strips all whitespace; lstrip_blocks strips the
  // indentation of a block or comment tag that starts its line.
  std::string_view strip_before(std::string_view text, char sign, bool variable) const {
    if (sign == '-') return rstrip_spaces(text);
    if (sign != '+' && o_.lstrip_blocks && !variable) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && all_spaces(text.substr(l_pos))) return text.substr(0, l_pos);
    }
    return text;
  }

  // Emits the (stripped) text; the line count follows the source it came from,
  // `consumed` bytes from its start.
  void emit_data(std::string_view text, size_t consumed) {
    if (!text.empty()) tokens_.push_back(Token{TokenType::Data, std::string(text), 0, 0, line_});
    line_ += count_newlines(std::string_view(src_).substr(size_t(text.data() - src_.data()), consumed));
  }

  // The end of a block tag at i: "+%}", "-%}\s*" or "%}\n?"; returns its end or npos.
  size_t match_block_end(size_t i) const {
    const std::string_view s = src_;
    if (starts_with_at(s, i, "+%}")) return i + 3;
    if (starts_with_at(s, i, "-%}")) return skip_spaces(s, i + 3);
    if (starts_with_at(s, i, "%}")) {
      size_t end = i + 2;
      if (o_.trim_blocks && end < s.size() && s[end] == '\n') ++end;
      return end;
    }
    return std::string::npos;
  }

  void finish_tag_end(size_t from, size_t end) {
    line_ += count_newlines(std::string_view(src_).substr(from, end - from));
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  void lex_comment() {
    const std::string_view s = src_;
    const size_t start = pos_;
    for (size_t q = s.find("#}", start); q != std::string::npos; q = s.find("#}", q + 1)) {
      size_t end;
      size_t from = q;
      if (q > start && s[q - 1] == '+') {
        from = q - 1;
        end = q + 2;
      } else if (q > start && s[q - 1] == '-') {
        from = q - 1;
        end = skip_spaces(s, q + 2);
      } else {
        end = q + 2;
        if (o_.trim_blocks && end < s.size() && s[end] == '\n') ++end;
      }
      line_ += count_newlines(s.substr(start, from - start));
      finish_tag_end(from, end);
      return;
    }
    syntax_error("Missing end of comment tag", line_);
  }

  void lex_raw() {
    const std::string_view s = src_;
    const size_t start = pos_;
    for (size_t q = s.find("{%", start); q != std::string::npos; q = s.find("{%", q + 1)) {
      size_t i = q + 2;
      char sign = 0;
      if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++];
      i = skip_spaces(s, i);
      if (!starts_with_at(s, i, "endraw")) continue;
      i = skip_spaces(s, i + 6);
      const size_t end = match_block_end(i);
      if (end == std::string::npos) continue;
      emit_data(strip_before(s.substr(start, q - start), sign, false), q - start);
      finish_tag_end(q, end);
      return;
    }
    syntax_error("Missing end of raw directive", line_);
  }

  void lex_tag(bool variable) {
    const std::string_view s = src_;
    tokens_.push_back(Token{variable ? TokenType::VariableBegin : TokenType::BlockBegin, "", 0, 0, line_});
    std::vector<char> balance;
    while (true) {
      if (pos_ >= s.size()) syntax_error(variable ? "unexpected end of template, expected 'end of print statement'."
                                                  : "unexpected end of template, expected 'end of statement block'.",
                                         line_);
      if (balance.empty()) {
        size_t end = std::string::npos;
        if (variable) {
          if (starts_with_at(s, pos_, "-}}")) end = skip_spaces(s, pos_ + 3);
          else if (starts_with_at(s, pos_, "}}")) end = pos_ + 2;
        } else {
          end = match_block_end(pos_);
        }
        if (end != std::string::npos) {
          tokens_.push_back(Token{variable ? TokenType::VariableEnd : TokenType::BlockEnd, "", 0, 0, line_});
          finish_tag_end(pos_, end);
          return;
        }
      }
      if (size_t n = skip_spaces(s, pos_); n != pos_) {
        line_ += count_newlines(s.substr(pos_, n - pos_));
        pos_ = n;
        continue;
      }
      const char c = s[pos_];
      if (c >= '0' && c <= '9') {
        lex_number();
        continue;
      }
      if (c == '\'' || c == '"') {
        if (lex_string()) continue;
      }
      if (lex_name()) continue;
      lex_operator(balance);
    }
  }

  static bool digit_run(std::string_view s, size_t& i) {  // (\d+_)*\d+
    const size_t start = i;
    while (true) {
      size_t j = i;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j == i) {
        if (i > start) --i;  // a trailing '_' is not part of the run
        return i > start;
      }
      i = j;
      if (i < s.size() && s[i] == '_' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
        ++i;
        continue;
      }
      return true;
    }
  }

  void lex_number() {
    const std::string_view s = src_;
    const size_t start = pos_;
    // float_re first (not right after a '.'), then integer_re.
    if (start == 0 || s[start - 1] != '.') {
      size_t i = start;
      if (digit_run(s, i)) {
        size_t j = i;
        bool fraction = false;
        if (j < s.size() && s[j] == '.') {
          size_t k = j + 1;
          if (digit_run(s, k)) {
            fraction = true;
            j = k;
          }
        }
        size_t e = j;
        bool exponent = false;
        if (e < s.size() && (s[e] == 'e' || s[e] == 'E')) {
          size_t k = e + 1;
          if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
          if (digit_run(s, k)) {
            exponent = true;
            e = k;
          }
        }
        if (exponent || fraction) {
          const size_t end = exponent ? e : j;
          std::string text(s.substr(start, end - start));
          auto v = parse_python_float(text);
          if (!v) syntax_error("invalid float literal " + text, line_);
          tokens_.push_back(Token{TokenType::Float, text, 0, *v, line_});
          pos_ = end;
          return;
        }
      }
    }
    size_t i = start;
    int base = 10;
    auto prefixed = [&](char p, int b) {
      if (i + 1 < s.size() && s[i] == '0' && (s[i + 1] | 0x20) == p) {
        size_t k = i + 2;
        auto ok = [&](char ch) {
          ch = char(ch | 0x20);
          return b == 16 ? ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) : (ch >= '0' && ch < char('0' + b));
        };
        size_t count = 0;
        while (true) {
          size_t m = k;
          if (m < s.size() && s[m] == '_') ++m;
          if (m < s.size() && ok(s[m])) {
            k = m + 1;
            ++count;
          } else {
            break;
          }
        }
        if (count) {
          base = b;
          i = k;
          return true;
        }
      }
      return false;
    };
    if (!prefixed('b', 2) && !prefixed('o', 8) && !prefixed('x', 16)) {
      if (s[i] == '0') {  // 0(_?0)*
        ++i;
        while (true) {
          size_t m = i;
          if (m < s.size() && s[m] == '_') ++m;
          if (m < s.size() && s[m] == '0') i = m + 1;
          else break;
        }
      } else {
        digit_run(s, i);
      }
    }
    std::string text(s.substr(start, i - start));
    auto v = parse_python_int(text, base == 10 ? 10 : 0);
    if (!v) syntax_error("invalid integer literal " + text, line_);
    tokens_.push_back(Token{TokenType::Integer, text, *v, 0, line_});
    pos_ = i;
  }

  // Python's "unicode-escape" decoding of a string literal's body.
  std::string unescape(std::string_view body) {
    std::string out;
    out.reserve(body.size());
    static const char* hexdigits = "0123456789abcdef";
    for (size_t i = 0; i < body.size();) {
      if (body[i] != '\\') {
        out += body[i++];
        continue;
      }
      if (i + 1 >= body.size()) syntax_error("\\ at end of string", line_);
      const char c = body[i + 1];
      i += 2;
      auto hex = [&](int n, const char* what) {
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
          if (i >= body.size() || !std::isxdigit(static_cast<unsigned char>(body[i]))) syntax_error(what, line_);
          const char h = char(body[i++] | 0x20);
          v = v * 16 + uint32_t(h <= '9' ? h - '0' : h - 'a' + 10);
        }
        return v;
      };
      auto put = [&](uint32_t cp) {
        if (cp > 0x10FFFF) syntax_error("illegal Unicode character", line_);
        if (cp >= 0xD800 && cp < 0xE000) syntax_error("surrogate code points are not supported in string literals", line_);
        append_utf8(out, cp);
      };
      switch (c) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': put(hex(2, "truncated \\xXX escape")); break;
        case 'u': put(hex(4, "truncated \\uXXXX escape")); break;
        case 'U': put(hex(8, "truncated \\UXXXXXXXX escape")); break;
        case 'N': syntax_error("\\N{...} escapes are not supported", line_);
        default:
          if (c >= '0' && c <= '7') {
            uint32_t v = uint32_t(c - '0');
            for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k) v = v * 8 + uint32_t(body[i++] - '0');
            put(v);
          } else if (static_cast<unsigned char>(c) >= 0x80) {
            // Python first turns the character into its backslashreplace form
            // (\xe9, \u20ac, \U0001f408), so "\é" reads as the text \xe9.
            size_t j = i - 1;
            const char32_t cp = decode_one(body, j);
            i = j;
            out += '\\';
            const int digits = cp < 0x100 ? 2 : cp < 0x10000 ? 4 : 8;
            out += digits == 2 ? 'x' : digits == 4 ? 'u' : 'U';
            for (int k = digits - 1; k >= 0; --k) out += hexdigits[(cp >> (4 * k)) & 15];
          } else {
            out += '\\';
            out += c;
          }
      }
    }
    return out;
  }

  bool lex_string() {
    const std::string_view s = src_;
    const char q = s[pos_];
    size_t i = pos_ + 1;
    while (i < s.size() && s[i] != q) i += s[i] == '\\' ? 2 : 1;
    if (i >= s.size()) return false;  // unterminated: the operator rule then fails on the quote
    const std::string_view body = s.substr(pos_ + 1, i - pos_ - 1);
    tokens_.push_back(Token{TokenType::String, unescape(body), 0, 0, line_});
    line_ += count_newlines(body);
    pos_ = i + 1;
    return true;
  }

  bool lex_name() {
    const std::string_view s = src_;
    size_t i = pos_;
    size_t j = i;
    const char32_t first = decode_one(s, j);
    if (!is_word(first)) return false;
    while (i < s.size()) {
      size_t k = i;
      if (!is_word(decode_one(s, k))) break;
      i = k;
    }
    const bool ident_start = first == '_' || (unicode_flags(first) & kAlpha);
    if (!ident_start) syntax_error("Invalid character in identifier", line_);
    tokens_.push_back(Token{TokenType::Name, std::string(s.substr(pos_, i - pos_)), 0, 0, line_});
    pos_ = i;
    return true;
  }

  void lex_operator(std::vector<char>& balance) {
    const std::string_view s = src_;
    static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two) {
      if (starts_with_at(s, pos_, op)) {
        tokens_.push_back(Token{TokenType::Operator, op, 0, 0, line_});
        pos_ += 2;
        return;
      }
    }
    const char c = s[pos_];
    if (!std::strchr("+-/*%~[](){}<>=.:|,;", c) || c == 0) {
      size_t j = pos_;
      const char32_t cp = decode_one(s, j);
      std::string ch;
      append_utf8(ch, cp);
      syntax_error("unexpected char " + repr_str(ch) + " at " + std::to_string(utf8_length(s.substr(0, pos_))), line_);
    }
    if (c == '(' || c == '[' || c == '{') balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) syntax_error(std::string("unexpected '") + c + "'", line_);
      const char expected = balance.back();
      balance.pop_back();
      if (expected != c) syntax_error(std::string("unexpected '") + c + "', expected '" + expected + "'", line_);
    }
    tokens_.push_back(Token{TokenType::Operator, std::string(1, c), 0, 0, line_});
    ++pos_;
  }

  LexerOptions o_;
  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options) {
  if (!valid_utf8(source)) throw TemplateError(ErrorKind::Syntax, "template source is not valid UTF-8");
  return Lexer(source, options).run();
}

}  // namespace qinfer::jinja
