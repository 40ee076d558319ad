// jinja2 3.1's built-in filters, plus Hugging Face's tojson (json.dumps).
#include <algorithm>
#include <cmath>
#include <random>

#include "qinfer/jinja/args.h"
#include "qinfer/jinja/builtins.h"
#include "qinfer/jinja/json.h"
#include "qinfer/jinja/objects.h"
#include "qinfer/jinja/operators.h"
#include "qinfer/jinja/pyformat.h"
#include "qinfer/jinja/renderer.h"
#include "qinfer/jinja/strings.h"
#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

namespace {

using Filter = Value (*)(Renderer&, const Value&, CallArgs&);

// jinja2's soft_str: str(), keeping Markup as it is.
Value soft_str(const Value& v) { return v.is_str() ? v : Value(to_str(v)); }

Value ignore_case(const Value& v) { return v.is_str() ? Value(str_lower(v.str())) : v; }

// make_attrgetter: "a.b.0" looks up a, then b, then item 0, through the sandbox.
struct AttrGetter {
  std::vector<Value> parts;
  bool lower = false;
  const Value* fallback = nullptr;  // `default` for undefined results

  AttrGetter(const Value& attribute, bool ignore_case_, const Value* dflt = nullptr) : lower(ignore_case_), fallback(dflt) {
    if (attribute.is_none() || attribute.is_undefined()) return;
    if (!attribute.is_str()) {
      parts.push_back(attribute);
      return;
    }
    for (const auto& p : py_split(attribute.str(), std::string("."), -1)) {
      if (!p.empty() && str_all(p, kDigit)) {
        if (auto i = parse_python_int(p, 10)) {
          parts.emplace_back(*i);
          continue;
        }
      }
      parts.emplace_back(p);
    }
  }
  Value operator()(Renderer& r, Value item) const {
    for (const Value& part : parts) {
      item = r.getitem(item, part);
      if (fallback && item.is_undefined()) item = *fallback;
    }
    return lower ? ignore_case(item) : item;
  }
};

// make_multi_attrgetter: "age,name" gives a list of keys.
std::vector<AttrGetter> multi_getter(const Value& attribute, bool lower) {
  std::vector<AttrGetter> out;
  if (attribute.is_str()) {
    for (const auto& p : py_split(attribute.str(), std::string(","), -1)) out.emplace_back(Value(p), lower);
  } else {
    out.emplace_back(attribute, lower);
  }
  return out;
}

// Python's sorted(values, key=..., reverse=...): stable, reverse keeps ties in order.
ValueList sorted_by(Renderer& r, ValueList items, const std::function<Value(const Value&)>& key, bool reverse) {
  std::vector<std::pair<Value, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) keyed.emplace_back(key(items[i]), i);
  r.tick(items.size() * 4);
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& a, const auto& b) {
    return reverse ? less_than(b.first, a.first) : less_than(a.first, b.first);
  });
  ValueList out;
  out.reserve(items.size());
  for (const auto& [k, i] : keyed) out.push_back(std::move(items[i]));
  return out;
}

// ---- strings ----

Value f_upper(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_upper", c, {});
  return Value(str_upper(soft_str(v).str()), v.is_markup());
}
Value f_lower(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_lower", c, {});
  return Value(str_lower(soft_str(v).str()), v.is_markup());
}
Value f_capitalize(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_capitalize", c, {});
  return Value(str_capitalize(soft_str(v).str()), v.is_markup());
}
Value f_title(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_title", c, {});
  // Words start after runs of [-\s({\[<]; each word: first character upper, the rest lower.
  const std::u32string u = to_u32(soft_str(v).str());
  auto is_sep = [](char32_t ch) { return ch == '-' || ch == '(' || ch == '{' || ch == '[' || ch == '<' || is_space(ch); };
  std::string out;
  size_t i = 0;
  while (i < u.size()) {
    size_t j = i;
    const bool sep = is_sep(u[i]);
    while (j < u.size() && is_sep(u[j]) == sep) ++j;
    const std::u32string item = u.substr(i, j - i);
    if (sep) {
      out += to_utf8(item);
    } else {
      out += str_upper(to_utf8(item.substr(0, 1)));
      out += str_lower(to_utf8(item.substr(1)));
    }
    i = j;
  }
  return Value(std::move(out), v.is_markup());
}
Value f_trim(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_trim", c, {"chars"});
  std::optional<std::string> chars;
  if (a.has(0) && !a.get(0, Value()).is_none()) {
    if (!a.get(0, Value()).is_str()) fail(ErrorKind::Type, "strip arg must be None or str");
    chars = a.get(0, Value()).str();
  }
  return Value(py_strip(soft_str(v).str(), chars, true, true), v.is_markup());
}
Value f_string(Renderer&, const Value& v, CallArgs& c) {
  Args a("soft_str", c, {});
  return soft_str(v);
}
Value f_replace(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_replace", c, {"old", "new", "count"});
  const Value cnt = a.get(2, Value(nullptr));
  int64_t count = -1;
  if (!cnt.is_none()) {
    if (!cnt.is_integral()) fail(ErrorKind::Type, "'" + type_name(cnt) + "' object cannot be interpreted as an integer");
    count = cnt.integer();
  }
  return Value(py_replace(to_str(v), to_str(a.required(0)), to_str(a.required(1)), count));
}
Value f_center(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_center", c, {"width"});
  const int64_t width = a.integer(0, 80);
  if (width > int64_t(1) << 28) fail(ErrorKind::Limit, "center width too large");
  return Value(py_pad(soft_str(v).str(), width, " ", '^'));
}
Value f_indent(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_indent", c, {"width", "first", "blank"});
  const Value w = a.get(0, Value(int64_t(4)));
  std::string indention;
  if (w.is_str()) {
    indention = w.str();
  } else {
    if (w.is_undefined()) w.raise_undefined();
    if (!w.is_integral()) fail(ErrorKind::Type, "can't multiply sequence by non-int of type '" + type_name(w) + "'");
    if (w.integer() > (int64_t(1) << 20)) fail(ErrorKind::Limit, "indent width too large");
    indention.assign(size_t(std::max<int64_t>(0, w.integer())), ' ');
  }
  if (v.is_undefined()) v.raise_undefined();
  if (!v.is_str()) fail(ErrorKind::Type, "unsupported operand type(s) for +=: '" + type_name(v) + "' and 'str'");
  const std::string s = v.str() + "\n";
  const std::vector<std::string> lines = py_splitlines(s, false);
  std::string rv;
  if (a.flag(2, false)) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
      r.check_size(rv.size());
    }
  }
  if (a.flag(1, false)) rv = indention + rv;
  return Value(std::move(rv), v.is_markup());
}
Value f_truncate(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_truncate", c, {"length", "killwords", "end", "leeway"});
  for (size_t i : {size_t(0), size_t(3)})
    if (a.has(i) && a.get(i, Value()).is_undefined()) a.get(i, Value()).raise_undefined();
  const int64_t length = a.integer(0, 255);
  const std::string end = a.has(2) ? to_str(a.get(2, Value())) : "...";
  const Value lw = a.get(3, Value(nullptr));
  const int64_t leeway = lw.is_none() ? 5 : lw.integer();
  const int64_t end_len = int64_t(utf8_length(end));
  if (length < end_len) fail(ErrorKind::Assertion, "expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
  if (leeway < 0) fail(ErrorKind::Assertion, "expected leeway >= 0, got " + std::to_string(leeway));
  if (!v.is_str()) {
    const auto n = jinja::length(v);
    if (!n) fail(ErrorKind::Type, "object of type '" + type_name(v) + "' has no len()");
    if (*n <= length + leeway) return v;
    fail(ErrorKind::Type, "truncate needs a string, not " + type_name(v));
  }
  const std::string& s = v.str();
  const std::u32string u = to_u32(s);
  if (int64_t(u.size()) <= length + leeway) return Value(s);
  std::string head = to_utf8(u.substr(0, size_t(length - end_len)));
  if (a.flag(1, false)) return Value(head + end);
  const auto parts = py_rsplit(head, std::string(" "), 1);
  return Value(parts[0] + end);
}
Value f_wordcount(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_wordcount", c, {});
  const std::string s = soft_str(v).str();
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    const bool w = is_word(decode_one(s, i));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}
Value f_wordwrap(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_wordwrap", c, {"width", "break_long_words", "wrapstring", "break_on_hyphens"});
  const int64_t width = a.integer(0, 79);
  if (width <= 0) fail(ErrorKind::Value, "invalid width " + std::to_string(width) + " (must be > 0)");
  const bool break_long = a.flag(1, true);
  const Value ws = a.get(2, Value(nullptr));
  const std::string wrapstring = ws.is_none() ? "\n" : to_str(ws);
  // textwrap.wrap per paragraph: whitespace-separated chunks filled greedily;
  // leading whitespace of a new line is dropped, as textwrap does.
  std::string out;
  const auto paragraphs = py_splitlines(to_str(v), false);
  for (size_t pi = 0; pi < paragraphs.size(); ++pi) {
    if (pi) out += wrapstring;
    const std::u32string u = to_u32(paragraphs[pi]);
    std::vector<std::u32string> chunks;
    for (size_t i = 0; i < u.size();) {
      size_t j = i;
      const bool sp = is_space(u[i]);
      while (j < u.size() && is_space(u[j]) == sp) ++j;
      chunks.push_back(u.substr(i, j - i));
      i = j;
    }
    std::vector<std::u32string> lines;
    std::u32string line;
    for (size_t k = 0; k < chunks.size(); ++k) {
      std::u32string chunk = chunks[k];
      const bool sp = is_space(chunk[0]);
      if (line.empty() && sp && !lines.empty()) continue;
      if (int64_t(line.size() + chunk.size()) <= width) {
        line += chunk;
        continue;
      }
      if (sp) {
        lines.push_back(line);
        line.clear();
        continue;
      }
      if (!line.empty()) {
        while (!line.empty() && is_space(line.back())) line.pop_back();
        lines.push_back(line);
        line.clear();
      }
      while (break_long && int64_t(chunk.size()) > width) {
        lines.push_back(chunk.substr(0, size_t(width)));
        chunk = chunk.substr(size_t(width));
      }
      line = chunk;
    }
    while (!line.empty() && is_space(line.back())) line.pop_back();
    if (!line.empty()) lines.push_back(line);
    for (size_t k = 0; k < lines.size(); ++k) {
      if (k) out += wrapstring;
      out += to_utf8(lines[k]);
    }
  }
  return Value(std::move(out));
}
Value f_format(Renderer&, const Value& v, CallArgs& c) {
  if (!c.args.empty() && !c.kwargs.empty())
    fail(ErrorKind::Runtime, "can't handle positional and keyword arguments at the same time");
  Value args;
  if (!c.kwargs.empty()) {
    Dict d;
    for (auto& [k, x] : c.kwargs) d.set(Value(k), x);
    args = Value::dict(std::move(d));
  } else {
    args = Value::tuple(c.args);
  }
  return binary_op(ast::BinaryOp::Mod, soft_str(v), args, size_t(1) << 30);
}
Value f_striptags(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_striptags", c, {});
  std::string s = to_str(v);
  // Drop <!-- comments --> and <tags>, collapse whitespace, unescape entities.
  std::string no_tags;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 4, "<!--") == 0) {
      const size_t e = s.find("-->", i + 4);
      if (e != std::string::npos) {
        i = e + 3;
        continue;
      }
    }
    if (s[i] == '<') {
      const size_t e = s.find('>', i + 1);
      if (e != std::string::npos) {
        i = e + 1;
        continue;
      }
    }
    no_tags += s[i++];
  }
  std::string joined;
  for (const auto& w : py_split(no_tags, std::nullopt, -1)) joined += (joined.empty() ? "" : " ") + w;
  std::string out;
  for (size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] == '&') {
      const size_t semi = joined.find(';', i);
      if (semi != std::string::npos && semi - i <= 10) {
        const std::string ent = joined.substr(i + 1, semi - i - 1);
        std::optional<char32_t> cp;
        if (ent == "amp") cp = '&';
        else if (ent == "lt") cp = '<';
        else if (ent == "gt") cp = '>';
        else if (ent == "quot") cp = '"';
        else if (ent == "apos") cp = '\'';
        else if (ent == "nbsp") cp = 0xA0;
        else if (ent.size() > 1 && ent[0] == '#') {
          auto n = ent[1] == 'x' || ent[1] == 'X' ? parse_python_int(ent.substr(2), 16) : parse_python_int(ent.substr(1), 10);
          if (n && *n > 0 && *n <= 0x10FFFF && !(*n >= 0xD800 && *n < 0xE000)) cp = char32_t(*n);
        }
        if (cp) {
          append_utf8(out, *cp);
          i = semi;
          continue;
        }
      }
    }
    out += joined[i];
  }
  return Value(out);
}
Value f_escape(Renderer&, const Value& v, CallArgs& c) {
  Args a("escape", c, {});
  return html_escape(v);
}
Value f_forceescape(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_forceescape", c, {});
  return html_escape(Value(to_str(v)));
}
Value f_safe(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_mark_safe", c, {});
  return Value(to_str(v), true);
}
Value f_urlencode(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_urlencode", c, {});
  auto quote = [](const std::string& s, bool for_qs) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char ch : s) {
      if (std::isalnum(ch) || ch == '_' || ch == '.' || ch == '-' || ch == '~' || (!for_qs && ch == '/')) out += char(ch);
      else if (for_qs && ch == ' ') out += '+';
      else {
        out += '%';
        out += hex[ch >> 4];
        out += hex[ch & 15];
      }
    }
    return out;
  };
  if (v.is_str() || !is_iterable(v)) return Value(quote(to_str(v), false));
  ValueList pairs;
  if (v.is_dict()) {
    for (const auto& [k, x] : v.dict().entries) pairs.push_back(Value::tuple({k, x}));
  } else {
    pairs = iterate(v);
  }
  std::string out;
  for (const Value& p : pairs) {
    const ValueList kv = iterate(p);
    if (kv.size() != 2) fail(ErrorKind::Value, "urlencode needs (key, value) pairs");
    if (!out.empty()) out += '&';
    out += quote(to_str(kv[0]), true) + "=" + quote(to_str(kv[1]), true);
  }
  return Value(out);
}
Value f_xmlattr(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_xmlattr", c, {"autospace"});
  if (v.is_undefined()) v.raise_undefined();
  if (!v.is_dict()) fail(ErrorKind::Attribute, "'" + type_name(v) + "' object has no attribute 'items'");
  std::string rv;
  for (const auto& [k, x] : v.dict().entries) {
    if (x.is_none() || x.is_undefined()) continue;
    const std::string key = to_str(k);
    for (char ch : key)
      if (ch == '/' || ch == '>' || ch == '=' || ch == ' ' || (ch >= 9 && ch <= 13))
        fail(ErrorKind::Value, "Invalid character in attribute name: " + repr_str(key));
    if (!rv.empty()) rv += " ";
    rv += html_escape(Value(key)).str() + "=\"" + html_escape(x).str() + "\"";
  }
  if (a.flag(0, true) && !rv.empty()) rv = " " + rv;
  return Value(rv);
}
Value f_filesizeformat(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_filesizeformat", c, {"binary"});
  double bytes;
  if (v.is_number()) bytes = v.number();
  else if (v.is_str()) {
    auto f = parse_python_float(v.str());
    if (!f) fail(ErrorKind::Value, "could not convert string to float: " + repr_str(v.str()));
    bytes = *f;
  } else {
    fail(ErrorKind::Type, "float() argument must be a string or a real number, not '" + type_name(v) + "'");
  }
  const bool binary = a.flag(0, false);
  const double base = binary ? 1024 : 1000;
  static const char* dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  if (bytes == 1) return Value("1 Byte");
  if (bytes < base) return Value(std::to_string(int64_t(bytes)) + " Bytes");
  double unit = base;
  const char* prefix = "";
  for (int i = 0; i < 8; ++i) {
    unit = std::pow(base, i + 2);
    prefix = binary ? bin[i] : dec[i];
    if (bytes < unit) break;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, prefix);
  return Value(buf);
}

// ---- sequences ----

Value f_length(Renderer&, const Value& v, CallArgs& c) {
  Args a("len", c, {});
  auto n = length(v);
  if (!n) fail(ErrorKind::Type, "object of type '" + type_name(v) + "' has no len()");
  return Value(*n);
}
Value f_first(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_first", c, {});
  if (IteratorObject* it = v.object_as<IteratorObject>()) {
    if (auto x = it->next()) return *x;
  } else {
    const ValueList items = iterate(v);
    if (!items.empty()) return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}
Value f_last(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_last", c, {});
  if (v.is_object() && !v.object().has_items() && !v.object_as<DictView>())
    fail(ErrorKind::Type, "'" + type_name(v) + "' object is not reversible");
  if (!is_iterable(v)) fail(ErrorKind::Type, "'" + type_name(v) + "' object is not reversible");
  const ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}
Value f_list(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_list", c, {});
  return Value::list(iterate(v));
}
Value f_reverse(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_reverse", c, {});
  if (v.is_str()) {
    std::u32string u = to_u32(v.str());
    std::reverse(u.begin(), u.end());
    return Value(to_utf8(u), v.is_markup());
  }
  if (!is_iterable(v)) fail(ErrorKind::Runtime, "argument must be iterable");
  ValueList items = iterate(v);
  std::reverse(items.begin(), items.end());
  if (v.is_list()) return make_iterator("list_reverseiterator", std::move(items));
  if (v.is_tuple() || v.object_as<RangeObject>()) return make_iterator("reversed", std::move(items));
  if (v.is_dict()) return make_iterator("dict_reversekeyiterator", std::move(items));
  if (v.is_undefined()) return make_iterator("reversed", std::move(items));
  return Value::list(std::move(items));  // generators: list(value) reversed
}
Value f_join(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_join", c, {"d", "attribute"});
  const std::string sep = to_str(a.get(0, Value("")));
  ValueList items = iterate(v);
  if (a.has(1) && !a.get(1, Value()).is_none()) {
    AttrGetter get(a.get(1, Value()), false);
    for (Value& x : items) x = get(r, x);
  }
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += to_str(items[i]);
    r.check_size(out.size());
  }
  return Value(std::move(out));
}
Value f_batch(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_batch", c, {"linecount", "fill_with"});
  const Value count = a.required(0);
  const Value fill = a.get(1, Value(nullptr));
  return make_generator([v, count, fill]() {
    ValueList out, tmp;
    auto full = [&]() { return count.is_number() && equals(Value(int64_t(tmp.size())), count); };
    for (Value& item : iterate(v)) {
      if (full()) {
        out.push_back(Value::list(std::move(tmp)));
        tmp.clear();
      }
      tmp.push_back(std::move(item));
    }
    if (!tmp.empty()) {
      if (!fill.is_none()) {
        if (count.is_undefined()) count.raise_undefined();
        if (!count.is_integral()) fail(ErrorKind::Type, "can't multiply sequence by non-int of type '" + type_name(count) + "'");
        while (int64_t(tmp.size()) < count.integer()) tmp.push_back(fill);
      }
      out.push_back(Value::list(std::move(tmp)));
    }
    return out;
  });
}
Value f_slice(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_slice", c, {"slices", "fill_with"});
  const Value count = a.required(0);
  const Value fill = a.get(1, Value(nullptr));
  return make_generator([v, count, fill]() {
    const ValueList seq = iterate(v);
    if (count.is_undefined()) count.raise_undefined();
    if (!count.is_integral()) fail(ErrorKind::Type, "'" + type_name(count) + "' object cannot be interpreted as an integer");
    const int64_t slices = count.integer();
    if (slices == 0) fail(ErrorKind::ZeroDivision, "integer division or modulo by zero");
    if (slices < 0 || slices > int64_t(1) << 20) fail(ErrorKind::Value, "slice count out of range");
    const int64_t n = int64_t(seq.size());
    const int64_t per = n / slices, extra = n % slices;
    ValueList out;
    int64_t offset = 0;
    for (int64_t k = 0; k < slices; ++k) {
      const int64_t start = offset + k * per;
      if (k < extra) ++offset;
      const int64_t end = offset + (k + 1) * per;
      ValueList tmp(seq.begin() + start, seq.begin() + end);
      if (!fill.is_none() && k >= extra) tmp.push_back(fill);
      out.push_back(Value::list(std::move(tmp)));
    }
    return out;
  });
}
Value f_sort(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_sort", c, {"reverse", "case_sensitive", "attribute"});
  const auto getters = multi_getter(a.get(2, Value(nullptr)), !a.flag(1, false));
  return Value::list(sorted_by(r, iterate(v),
                               [&](const Value& item) {
                                 ValueList keys;
                                 for (const auto& g : getters) keys.push_back(g(r, item));
                                 return Value::list(std::move(keys));
                               },
                               a.flag(0, false)));
}
Value f_dictsort(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_dictsort", c, {"case_sensitive", "by", "reverse"});
  const std::string by = to_str(a.get(1, Value("key")));
  if (by != "key" && by != "value") fail(ErrorKind::Runtime, "You can only sort by either \"key\" or \"value\"");
  if (v.is_undefined()) v.raise_undefined();
  if (!v.is_dict()) fail(ErrorKind::Attribute, "'" + type_name(v) + "' object has no attribute 'items'");
  const bool cs = a.flag(0, false);
  const size_t pos = by == "key" ? 0 : 1;
  ValueList items;
  for (const auto& [k, x] : v.dict().entries) items.push_back(Value::tuple({k, x}));
  return Value::list(sorted_by(r, std::move(items),
                               [&](const Value& item) {
                                 const Value& key = item.items()[pos];
                                 return cs ? key : ignore_case(key);
                               },
                               a.flag(2, false)));
}
Value f_unique(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_unique", c, {"case_sensitive", "attribute"});
  auto get = std::make_shared<AttrGetter>(a.get(1, Value(nullptr)), !a.flag(0, false));
  return make_generator([&r, v, get]() {
    Dict seen;
    ValueList out;
    for (const Value& item : iterate(v)) {
      const Value key = (*get)(r, item);
      if (seen.find(key)) continue;
      seen.set(key, Value(true));
      out.push_back(item);
    }
    return out;
  });
}
Value min_max(Renderer& r, const Value& v, CallArgs& c, bool max) {
  Args a(max ? "do_max" : "do_min", c, {"case_sensitive", "attribute"});
  const ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  AttrGetter get(a.get(1, Value(nullptr)), !a.flag(0, false));
  size_t best = 0;
  Value best_key = get(r, items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = get(r, items[i]);
    if (max ? less_than(best_key, k) : less_than(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}
Value f_min(Renderer& r, const Value& v, CallArgs& c) { return min_max(r, v, c, false); }
Value f_max(Renderer& r, const Value& v, CallArgs& c) { return min_max(r, v, c, true); }
Value f_sum(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_sum", c, {"attribute", "start"});
  Value total = a.get(1, Value(int64_t(0)));
  if (total.is_str()) fail(ErrorKind::Type, "sum() can't sum strings [use ''.join(seq) instead]");
  AttrGetter get(a.get(0, Value(nullptr)), false);
  for (const Value& item : iterate(v)) total = binary_op(ast::BinaryOp::Add, total, get(r, item), r.env().limits.max_output_bytes);
  return total;
}
Value f_groupby(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_groupby", c, {"attribute", "default", "case_sensitive"});
  const bool cs = a.flag(2, false);
  const Value dflt = a.get(1, Value(nullptr));
  AttrGetter key(a.required(0), !cs, dflt.is_none() ? nullptr : &dflt);
  AttrGetter out_key(a.required(0), false, dflt.is_none() ? nullptr : &dflt);
  const ValueList sorted = sorted_by(r, iterate(v), [&](const Value& x) { return key(r, x); }, false);
  ValueList out;
  size_t i = 0;
  while (i < sorted.size()) {
    const Value k = key(r, sorted[i]);
    ValueList group;
    size_t j = i;
    while (j < sorted.size() && equals(key(r, sorted[j]), k)) group.push_back(sorted[j++]);
    const Value grouper = cs ? k : out_key(r, group[0]);
    out.push_back(Value::object(std::make_shared<GroupTuple>(grouper, Value::list(std::move(group)))));
    i = j;
  }
  return Value::list(std::move(out));
}
Value f_items(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_items", c, {});
  return make_generator([v]() {
    ValueList out;
    if (v.is_undefined()) return out;
    if (!v.is_dict()) fail(ErrorKind::Type, "Can only get item pairs from a mapping.");
    for (const auto& [k, x] : v.dict().entries) out.push_back(Value::tuple({k, x}));
    return out;
  });
}
Value f_random(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_random", c, {});
  const ValueList items = iterate(v);
  if (items.empty()) return Value::undefined("No random item, sequence was empty.");
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return items[size_t(rng() % items.size())];
}

// map / select / reject / selectattr / rejectattr (generators: the work happens when consumed)
ValueList do_map(Renderer& r, const Value& v, CallArgs& c) {
  if (!truthy(v)) return {};
  ValueList items = iterate(v);
  if (c.args.empty()) {
    const Value* attribute = nullptr;
    const Value* dflt = nullptr;
    for (auto& [k, x] : c.kwargs) {
      if (k == "attribute") attribute = &x;
      else if (k == "default") dflt = &x;
    }
    if (attribute) {
      for (auto& [k, x] : c.kwargs)
        if (k != "attribute" && k != "default") fail(ErrorKind::Runtime, "Unexpected keyword argument " + repr_str(k));
      AttrGetter get(*attribute, false, dflt && !dflt->is_none() ? dflt : nullptr);
      for (Value& x : items) x = get(r, x);
      return items;
    }
    fail(ErrorKind::Runtime, "map requires a filter argument");
  }
  const std::string name = to_str(c.args[0]);
  const int id = find_filter(name);
  if (id < 0) fail(ErrorKind::Runtime, "No filter named " + repr_str(name) + ".");
  for (Value& x : items) {
    CallArgs rest{ValueList(c.args.begin() + 1, c.args.end()), c.kwargs};
    x = r.filter(id, name, x, rest);
  }
  return items;
}
Value f_map(Renderer& r, const Value& v, CallArgs& c) {
  return make_generator([&r, v, c]() mutable { return do_map(r, v, c); });
}
ValueList select_or_reject(Renderer& r, const Value& v, CallArgs& c, bool select, bool by_attr) {
  if (!truthy(v)) return {};
  const ValueList items = iterate(v);
  size_t off = 0;
  std::optional<AttrGetter> get;
  if (by_attr) {
    if (c.args.empty()) fail(ErrorKind::Runtime, "Missing parameter for attribute name");
    get.emplace(c.args[0], false);
    off = 1;
  }
  int test_id = -2;  // no test: truthiness
  std::string test_name;
  if (c.args.size() > off) {
    test_name = to_str(c.args[off]);
    test_id = find_test(test_name);
    if (test_id < 0) fail(ErrorKind::Runtime, "No test named " + repr_str(test_name) + ".");
  }
  ValueList out;
  for (const Value& item : items) {
    const Value x = get ? (*get)(r, item) : item;
    bool ok;
    if (test_id == -2) {
      ok = truthy(x);
    } else {
      CallArgs rest{ValueList(c.args.begin() + std::ptrdiff_t(off) + 1, c.args.end()), c.kwargs};
      ok = r.test(test_id, test_name, x, rest);
    }
    if (ok == select) out.push_back(item);
  }
  return out;
}
Value lazy_select(Renderer& r, const Value& v, CallArgs& c, bool select, bool by_attr) {
  return make_generator([&r, v, c, select, by_attr]() mutable { return select_or_reject(r, v, c, select, by_attr); });
}
Value f_select(Renderer& r, const Value& v, CallArgs& c) { return lazy_select(r, v, c, true, false); }
Value f_reject(Renderer& r, const Value& v, CallArgs& c) { return lazy_select(r, v, c, false, false); }
Value f_selectattr(Renderer& r, const Value& v, CallArgs& c) { return lazy_select(r, v, c, true, true); }
Value f_rejectattr(Renderer& r, const Value& v, CallArgs& c) { return lazy_select(r, v, c, false, true); }
// ---- values ----

Value f_default(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_default", c, {"default_value", "boolean"});
  if (v.is_undefined() || (a.flag(1, false) && !truthy(v))) return a.get(0, Value(""));
  return v;
}
Value f_abs(Renderer&, const Value& v, CallArgs& c) {
  Args a("abs", c, {});
  if (v.is_float()) return Value(std::fabs(v.number()));
  if (v.is_integral()) {
    if (v.integer() == INT64_MIN) fail(ErrorKind::Overflow, "integer result beyond 64 bits");
    return Value(v.integer() < 0 ? -v.integer() : v.integer());
  }
  fail(ErrorKind::Type, "bad operand type for abs(): '" + type_name(v) + "'");
}
Value f_int(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_int", c, {"default", "base"});
  const Value dflt = a.get(0, Value(int64_t(0)));
  const int64_t base = a.integer(1, 10);
  auto from_float = [&](double f) -> Value {
    if (std::isnan(f)) return dflt;
    if (std::isinf(f)) fail(ErrorKind::Overflow, "cannot convert float infinity to integer");
    if (std::fabs(f) >= 9.2e18) fail(ErrorKind::Overflow, "integer beyond 64 bits");
    return Value(int64_t(f));
  };
  if (v.is_str()) {
    if (base != 0 && (base < 2 || base > 36)) fail(ErrorKind::Value, "int() base must be >= 2 and <= 36, or 0");
    if (auto i = parse_python_int(v.str(), int(base))) return Value(*i);
    if (auto f = parse_python_float(v.str())) return from_float(*f);
    return dflt;
  }
  if (v.is_integral()) return Value(v.integer());
  if (v.is_float()) return from_float(v.number());
  return dflt;
}
Value f_float(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_float", c, {"default"});
  if (v.is_number()) return Value(v.number());
  if (v.is_str()) {
    if (auto f = parse_python_float(v.str())) return Value(*f);
  }
  return a.get(0, Value(0.0));
}
Value f_round(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_round", c, {"precision", "method"});
  const int64_t precision = a.integer(0, 0);
  const std::string method = to_str(a.get(1, Value("common")));
  if (method != "common" && method != "ceil" && method != "floor")
    fail(ErrorKind::Runtime, "method must be common, ceil or floor");
  if (!v.is_number()) fail(ErrorKind::Type, "type " + type_name(v) + " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_integral()) {
      if (precision >= 0) return Value(v.integer());
      return Value(int64_t(round_float(double(v.integer()), precision)));
    }
    return Value(round_float(v.number(), precision));
  }
  const double scale = std::pow(10.0, double(precision));
  const double x = v.number() * scale;
  return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}
Value f_attr(Renderer& r, const Value& v, CallArgs& c) {
  Args a("do_attr", c, {"name"});
  if (!a.required(0).is_str()) fail(ErrorKind::Type, "attribute name must be string, not '" + type_name(a.required(0)) + "'");
  const std::string name = a.required(0).str();
  if (v.is_undefined()) v.raise_undefined();
  if (v.is_dict() && !find_method(v, name)) return Value::undefined(repr_str(object_type_repr(v)) + " has no attribute " + repr_str(name));
  return r.getattr(v, name);
}
Value f_pprint(Renderer&, const Value& v, CallArgs& c) {
  Args a("do_pprint", c, {});
  return Value(repr(v));
}
Value f_tojson(Renderer& r, const Value& v, CallArgs& c) {
  Args a("tojson", c, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions o;
  o.ensure_ascii = a.flag(0, false);
  const Value indent = a.get(1, Value(nullptr));
  if (!indent.is_none()) {
    o.has_indent = true;
    if (indent.is_str()) o.indent = indent.str();
    else if (indent.is_integral()) o.indent.assign(size_t(std::clamp<int64_t>(indent.integer(), 0, 1 << 16)), ' ');
    else fail(ErrorKind::Type, "indent must be an int or a str");
    o.item_separator = ",";
  }
  const Value seps = a.get(2, Value(nullptr));
  if (!seps.is_none()) {
    const ValueList s = iterate(seps);
    if (s.size() != 2 || !s[0].is_str() || !s[1].is_str())
      fail(ErrorKind::Value, "separators must be a (item_separator, key_separator) pair of strings");
    o.item_separator = s[0].str();
    o.key_separator = s[1].str();
  }
  o.sort_keys = a.flag(3, false);
  std::string out = to_json(v, o);
  r.check_size(out.size());
  return Value(std::move(out));
}

struct FilterSpec {
  const char* name;
  Filter fn;
};

const FilterSpec kFilters[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize}, {"center", f_center},
    {"count", f_length}, {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
    {"escape", f_escape}, {"filesizeformat", f_filesizeformat}, {"first", f_first}, {"float", f_float},
    {"forceescape", f_forceescape}, {"format", f_format}, {"groupby", f_groupby}, {"indent", f_indent}, {"int", f_int},
    {"join", f_join}, {"last", f_last}, {"length", f_length}, {"list", f_list}, {"lower", f_lower}, {"items", f_items},
    {"map", f_map}, {"min", f_min}, {"max", f_max}, {"pprint", f_pprint}, {"random", f_random}, {"reject", f_reject},
    {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe},
    {"select", f_select}, {"selectattr", f_selectattr}, {"slice", f_slice}, {"sort", f_sort}, {"string", f_string},
    {"striptags", f_striptags}, {"sum", f_sum}, {"title", f_title}, {"trim", f_trim}, {"truncate", f_truncate},
    {"unique", f_unique}, {"upper", f_upper}, {"urlencode", f_urlencode}, {"wordcount", f_wordcount},
    {"wordwrap", f_wordwrap}, {"xmlattr", f_xmlattr}, {"tojson", f_tojson},
};

}  // namespace

int find_filter(std::string_view name) {
  for (size_t i = 0; i < std::size(kFilters); ++i)
    if (name == kFilters[i].name) return int(i);
  return -1;
}

Value run_filter(int id, Renderer& r, const Value& subject, CallArgs& args) {
  r.tick();
  return kFilters[id].fn(r, subject, args);
}

}  // namespace qinfer::jinja
