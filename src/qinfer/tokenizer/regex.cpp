#include "qinfer/tokenizer/regex.h"

#include <string>
#include <utility>

#include "qinfer/core/error.h"
#include "qinfer/tokenizer/unicode.h"

namespace qinfer {

struct Regex::Node {
  enum Kind { kClass, kSeq, kAlt, kLook, kNegLook, kRepeat, kBol, kEol } kind = kClass;
  // kClass: matches a code point in `ranges`, or with any flag of `cat`, or
  // missing any flag of `neg_cat`; `negate` inverts the result.
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  uint8_t cat = 0;
  uint8_t neg_cat = 0;
  bool negate = false;
  // kSeq / kAlt: children; kLook / kNegLook / kRepeat: kids[0].
  std::vector<Node*> kids;
  int min = 0, max = -1;  // kRepeat; max < 0 = unbounded
  bool lazy = false;
  // True when the node always consumes exactly one code point and its
  // outcome depends only on that code point (lets repeats run iteratively).
  bool single = false;
};

namespace {

using Node = Regex::Node;

bool class_matches(const Node* n, uint32_t cp) {
  bool m = false;
  for (const auto& r : n->ranges) {
    if (cp >= r.first && cp <= r.second) { m = true; break; }
  }
  if (!m && (n->cat | n->neg_cat)) {
    const uint8_t f = unicode::flags(cp);
    m = (f & n->cat) != 0 || (n->neg_cat && (f & n->neg_cat) != n->neg_cat);
  }
  return m != n->negate;
}

// Only valid for nodes with `single` set.
bool match_one(const Node* n, uint32_t cp) {
  switch (n->kind) {
    case Node::kClass: return class_matches(n, cp);
    case Node::kAlt:
      for (const Node* k : n->kids) if (match_one(k, cp)) return true;
      return false;
    case Node::kSeq:
      for (const Node* k : n->kids) {
        if (k->kind == Node::kLook) { if (!match_one(k->kids[0], cp)) return false; }
        else if (k->kind == Node::kNegLook) { if (match_one(k->kids[0], cp)) return false; }
        else if (!match_one(k, cp)) return false;
      }
      return true;
    default: return false;
  }
}

class Parser {
 public:
  Parser(std::string_view pattern, std::vector<std::unique_ptr<Node>>& arena)
      : pattern_(pattern), arena_(arena) {
    cps_ = unicode::decode_utf8(pattern).cps;
  }

  Node* parse() {
    Node* n = parse_alt();
    if (pos_ != cps_.size()) fail("unbalanced ')'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("regex '" + std::string(pattern_) + "': " + what + " at " + std::to_string(pos_));
  }
  bool at_end() const { return pos_ >= cps_.size(); }
  uint32_t peek(size_t k = 0) const { return pos_ + k < cps_.size() ? cps_[pos_ + k] : 0xFFFFFFFFu; }
  uint32_t next() {
    if (at_end()) fail("unexpected end");
    return cps_[pos_++];
  }
  Node* make(Node::Kind kind) {
    arena_.push_back(std::make_unique<Node>());
    arena_.back()->kind = kind;
    return arena_.back().get();
  }

  Node* parse_alt() {
    std::vector<Node*> alts{parse_seq()};
    while (peek() == '|') {
      ++pos_;
      alts.push_back(parse_seq());
    }
    if (alts.size() == 1) return alts[0];
    Node* n = make(Node::kAlt);
    n->kids = std::move(alts);
    n->single = true;
    for (Node* k : n->kids) n->single = n->single && k->single;
    return n;
  }

  Node* parse_seq() {
    Node* n = make(Node::kSeq);
    while (!at_end() && peek() != '|' && peek() != ')') {
      Node* atom = parse_atom();
      atom = parse_quantifier(atom);
      n->kids.push_back(atom);
    }
    // Single-char: zero or more one-char lookaheads followed by one single node.
    int consumers = 0;
    bool ok = !n->kids.empty();
    for (size_t i = 0; i < n->kids.size() && ok; ++i) {
      const Node* k = n->kids[i];
      if ((k->kind == Node::kLook || k->kind == Node::kNegLook) && k->kids[0]->single && consumers == 0) continue;
      if (k->single && i + 1 == n->kids.size()) { ++consumers; continue; }
      ok = false;
    }
    n->single = ok && consumers == 1;
    if (n->kids.size() == 1) return n->kids[0];
    return n;
  }

  Node* parse_quantifier(Node* atom) {
    int mn, mx;
    const uint32_t c = peek();
    if (c == '*') { mn = 0; mx = -1; ++pos_; }
    else if (c == '+') { mn = 1; mx = -1; ++pos_; }
    else if (c == '?') { mn = 0; mx = 1; ++pos_; }
    else if (c == '{') {
      ++pos_;
      mn = parse_int();
      mx = mn;
      if (peek() == ',') {
        ++pos_;
        mx = peek() == '}' ? -1 : parse_int();
      }
      if (next() != '}') fail("bad {n,m}");
      if (mx >= 0 && mx < mn) fail("bad {n,m}");
    } else {
      return atom;
    }
    if (atom->kind == Node::kBol || atom->kind == Node::kEol || atom->kind == Node::kLook ||
        atom->kind == Node::kNegLook)
      fail("quantifier on an assertion");
    Node* r = make(Node::kRepeat);
    r->kids = {atom};
    r->min = mn;
    r->max = mx;
    if (peek() == '?') { r->lazy = true; ++pos_; }
    if (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{') fail("nested quantifier");
    return r;
  }

  int parse_int() {
    int v = 0, digits = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + static_cast<int>(next() - '0');
      if (++digits > 6) fail("number too large");
    }
    if (digits == 0) fail("expected a number");
    return v;
  }

  Node* parse_atom() {
    const uint32_t c = next();
    switch (c) {
      case '(': {
        Node::Kind kind = Node::kSeq;  // plain group
        if (peek() == '?') {
          ++pos_;
          const uint32_t t = next();
          if (t == '=') kind = Node::kLook;
          else if (t == '!') kind = Node::kNegLook;
          else if (t != ':') fail("unsupported group syntax");
        }
        Node* inner = parse_alt();
        if (next() != ')') fail("expected ')'");
        if (kind == Node::kSeq) return inner;
        Node* n = make(kind);
        n->kids = {inner};
        return n;
      }
      case '[': return parse_class();
      case '.': {
        Node* n = make(Node::kClass);
        n->ranges = {{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}};
        n->negate = true;
        n->single = true;
        return n;
      }
      case '^': return make(Node::kBol);
      case '$': return make(Node::kEol);
      case '*': case '+': case '?': case '{': case ')': case ']': case '}':
        --pos_;
        fail("unexpected character");
      case '\\': {
        Node* n = make(Node::kClass);
        n->single = true;
        uint32_t cp;
        if (!parse_escape(n, &cp)) n->ranges.push_back({cp, cp});
        return n;
      }
      default: {
        Node* n = make(Node::kClass);
        n->single = true;
        n->ranges.push_back({c, c});
        return n;
      }
    }
  }

  // After a backslash. Either adds a set to `n` (returns true) or yields one
  // literal code point in *cp (returns false). Outside classes, \S \D \W set
  // n->negate; inside classes only \S is supported in negated form.
  bool parse_escape(Node* n, uint32_t* cp, bool in_class = false) {
    const uint32_t c = next();
    switch (c) {
      case 'p': {
        if (next() != '{') fail("expected '{' after \\p");
        const uint32_t g = next();
        if (next() != '}') fail("only one-letter \\p{..} categories are supported");
        uint8_t bit = 0;
        switch (g) {
          case 'L': bit = unicode::kLetter; break;
          case 'N': bit = unicode::kNumber; break;
          case 'P': bit = unicode::kPunctuation; break;
          case 'S': bit = unicode::kSymbol; break;
          case 'M': bit = unicode::kMark; break;
          case 'Z': bit = unicode::kSeparator; break;
          case 'C': bit = unicode::kControl; break;
          default: fail("unknown category");
        }
        n->cat |= bit;
        return true;
      }
      case 's': n->cat |= unicode::kWhitespace; return true;
      case 'd': n->ranges.push_back({'0', '9'}); return true;
      case 'w':
        n->ranges.insert(n->ranges.end(), {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}});
        return true;
      case 'S':
        if (in_class) n->neg_cat |= unicode::kWhitespace;
        else { n->cat |= unicode::kWhitespace; n->negate = true; }
        return true;
      case 'D': case 'W':
        if (in_class) fail("\\D and \\W inside a class are not supported");
        n->negate = true;
        if (c == 'D') n->ranges.push_back({'0', '9'});
        else n->ranges.insert(n->ranges.end(), {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}});
        return true;
      case 'r': *cp = '\r'; return false;
      case 'n': *cp = '\n'; return false;
      case 't': *cp = '\t'; return false;
      case 'f': *cp = '\f'; return false;
      case 'v': *cp = '\v'; return false;
      case '0': *cp = 0; return false;
      default:
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
          --pos_;
          fail("unsupported escape");
        }
        *cp = c;
        return false;
    }
  }

  Node* parse_class() {
    Node* n = make(Node::kClass);
    n->single = true;
    if (peek() == '^') { n->negate = true; ++pos_; }
    while (true) {
      if (at_end()) fail("unterminated class");
      uint32_t c = next();
      if (c == ']') break;
      if (c == '\\') {
        Node tmp;
        uint32_t cp;
        if (parse_escape(&tmp, &cp, true)) {
          n->cat |= tmp.cat;
          n->neg_cat |= tmp.neg_cat;
          n->ranges.insert(n->ranges.end(), tmp.ranges.begin(), tmp.ranges.end());
          continue;
        }
        c = cp;
      }
      uint32_t hi = c;
      if (peek() == '-' && peek(1) != ']' && peek(1) != 0xFFFFFFFFu) {
        ++pos_;
        hi = next();
        if (hi == '\\') {
          Node tmp;
          uint32_t cp;
          if (parse_escape(&tmp, &cp, true)) fail("class range ends in a set");
          hi = cp;
        }
        if (hi < c) fail("reversed class range");
      }
      n->ranges.push_back({c, hi});
    }
    return n;
  }

  std::string_view pattern_;
  std::vector<std::unique_ptr<Node>>& arena_;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
};

// Continuations: "what must match after this node", called with the position
// reached. Type-erased through a tiny interface to keep recursion cheap.
class Cont {
 public:
  virtual bool operator()(size_t pos) const = 0;
 protected:
  ~Cont() = default;
};
template <class F>
class ContF final : public Cont {
 public:
  explicit ContF(F f) : f_(std::move(f)) {}
  bool operator()(size_t pos) const override { return f_(pos); }
 private:
  F f_;
};
template <class F>
ContF<F> make_cont(F f) { return ContF<F>(std::move(f)); }

struct Matcher {
  const uint32_t* s;
  size_t begin, end;

  bool match(const Node* n, size_t pos, const Cont& k) const {
    switch (n->kind) {
      case Node::kClass:
        return pos < end && class_matches(n, s[pos]) && k(pos + 1);
      case Node::kSeq:
        if (n->single) return pos < end && match_one(n, s[pos]) && k(pos + 1);
        return match_seq(n, 0, pos, k);
      case Node::kAlt:
        for (const Node* a : n->kids) if (match(a, pos, k)) return true;
        return false;
      case Node::kLook:
      case Node::kNegLook: {
        const auto accept = make_cont([](size_t) { return true; });
        const bool r = match(n->kids[0], pos, accept);
        return (r == (n->kind == Node::kLook)) && k(pos);
      }
      case Node::kBol: return pos == begin && k(pos);
      case Node::kEol: return pos == end && k(pos);
      case Node::kRepeat: {
        const Node* kid = n->kids[0];
        if (kid->single) {
          size_t avail = end - pos;
          if (n->max >= 0 && static_cast<size_t>(n->max) < avail) avail = static_cast<size_t>(n->max);
          size_t run = 0;
          while (run < avail && match_one(kid, s[pos + run])) ++run;
          const size_t mn = static_cast<size_t>(n->min);
          if (run < mn) return false;
          if (n->lazy) {
            for (size_t c = mn; c <= run; ++c) if (k(pos + c)) return true;
          } else {
            for (size_t c = run + 1; c-- > mn;) if (k(pos + c)) return true;
          }
          return false;
        }
        return repeat(n, 0, pos, k);
      }
    }
    return false;
  }

  bool match_seq(const Node* n, size_t i, size_t pos, const Cont& k) const {
    if (i == n->kids.size()) return k(pos);
    const auto rest = make_cont([&](size_t p) { return match_seq(n, i + 1, p, k); });
    return match(n->kids[i], pos, rest);
  }

  bool repeat(const Node* n, int count, size_t pos, const Cont& k) const {
    const bool can_more = n->max < 0 || count < n->max;
    const auto again = make_cont([&](size_t p) {
      if (p == pos && count >= n->min) return false;  // an empty iteration ends the loop
      return repeat(n, count + 1, p, k);
    });
    if (n->lazy) {
      if (count >= n->min && k(pos)) return true;
      return can_more && match(n->kids[0], pos, again);
    }
    if (can_more && match(n->kids[0], pos, again)) return true;
    return count >= n->min && k(pos);
  }
};

}  // namespace

Regex::Regex(std::string_view pattern) {
  Parser p(pattern, nodes_);
  Node* root = p.parse();
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].get() == root) root_ = i;
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

bool Regex::search(const uint32_t* cps, size_t begin, size_t end, size_t from, size_t* match_begin,
                   size_t* match_end) const {
  const Matcher m{cps, begin, end};
  const Node* root = nodes_[root_].get();
  size_t found_end = 0;
  const auto done = make_cont([&](size_t p) {
    found_end = p;
    return true;
  });
  // When the pattern starts with an unbounded one-char repeat X+ (e.g. \s+$),
  // a failed attempt at p tried every end of X's run from p, so starting
  // inside that run cannot succeed either: skip it (keeps the search linear).
  const Node* lead = root->kind == Node::kSeq && !root->single && !root->kids.empty() ? root->kids[0] : nullptr;
  const bool skip_runs = lead && lead->kind == Node::kRepeat && lead->max < 0 && lead->kids[0]->single;
  for (size_t p = from; p <= end; ++p) {
    if (m.match(root, p, done)) {
      *match_begin = p;
      *match_end = found_end;
      return true;
    }
    if (skip_runs) {
      size_t q = p;
      while (q < end && match_one(lead->kids[0], cps[q])) ++q;
      if (q > p + 1) p = q - 1;
    }
  }
  return false;
}

}  // namespace qinfer
