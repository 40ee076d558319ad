// The methods of str, list, tuple and dict that templates call, as bound
// methods; the mutating ones are refused by the immutable sandbox.
#include <cstring>

#include "qinfer/jinja/args.h"
#include "qinfer/jinja/builtins.h"
#include "qinfer/jinja/objects.h"
#include "qinfer/jinja/pyformat.h"
#include "qinfer/jinja/renderer.h"
#include "qinfer/jinja/strings.h"
#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

namespace {

std::optional<std::string> opt_str(const Args& a, size_t i, const char* method) {
  if (!a.has(i) || a.get(i, Value()).is_none()) return std::nullopt;
  const Value v = a.get(i, Value());
  if (!v.is_str()) fail(ErrorKind::Type, std::string(method) + " arg must be None or str");
  return v.str();
}

std::optional<int64_t> opt_index(const Args& a, size_t i) {
  if (!a.has(i) || a.get(i, Value()).is_none()) return std::nullopt;
  const Value v = a.get(i, Value());
  if (!v.is_integral()) fail(ErrorKind::Type, "slice indices must be integers or None or have an __index__ method");
  return v.integer();
}

const std::string& str_arg(const Value& v, const char* what) {
  if (!v.is_str()) fail(ErrorKind::Type, std::string(what) + " must be str, not " + type_name(v));
  return v.str();
}

Value str_list(const std::vector<std::string>& parts) {
  ValueList out;
  out.reserve(parts.size());
  for (const auto& p : parts) out.emplace_back(p);
  return Value::list(std::move(out));
}

// A str result that stays Markup when the receiver was.
Value same_kind(const Value& self, std::string s) { return Value(std::move(s), self.is_markup()); }

// ---- str ----

Value m_strip_common(const Value& self, CallArgs& c, const char* name, bool left, bool right) {
  Args a(name, c, {"chars"});
  return same_kind(self, py_strip(self.str(), opt_str(a, 0, name), left, right));
}
Value m_strip(Renderer&, const Value& self, CallArgs& c) { return m_strip_common(self, c, "strip", true, true); }
Value m_lstrip(Renderer&, const Value& self, CallArgs& c) { return m_strip_common(self, c, "lstrip", true, false); }
Value m_rstrip(Renderer&, const Value& self, CallArgs& c) { return m_strip_common(self, c, "rstrip", false, true); }

Value m_split(Renderer&, const Value& self, CallArgs& c) {
  Args a("split", c, {"sep", "maxsplit"});
  return str_list(py_split(self.str(), opt_str(a, 0, "split"), a.integer(1, -1)));
}
Value m_rsplit(Renderer&, const Value& self, CallArgs& c) {
  Args a("rsplit", c, {"sep", "maxsplit"});
  return str_list(py_rsplit(self.str(), opt_str(a, 0, "rsplit"), a.integer(1, -1)));
}
Value m_splitlines(Renderer&, const Value& self, CallArgs& c) {
  Args a("splitlines", c, {"keepends"});
  return str_list(py_splitlines(self.str(), a.flag(0, false)));
}

Value m_affix(const Value& self, CallArgs& c, const char* name, bool end) {
  Args a(name, c, {"prefix", "start", "end"});
  const Value& p = a.required(0);
  const auto [lo, hi] = py_span(self.str(), opt_index(a, 1), opt_index(a, 2));
  const std::string_view window = std::string_view(self.str()).substr(lo, hi - lo);
  auto match = [&](const Value& v) {
    if (!v.is_str())
      fail(ErrorKind::Type, std::string(name) + " first arg must be str or a tuple of str, not " + type_name(v));
    const std::string& x = v.str();
    if (x.size() > window.size()) return false;
    return end ? window.substr(window.size() - x.size()) == x : window.substr(0, x.size()) == x;
  };
  if (p.is_tuple()) {
    for (const Value& v : p.items())
      if (match(v)) return Value(true);
    return Value(false);
  }
  return Value(match(p));
}
Value m_startswith(Renderer&, const Value& self, CallArgs& c) { return m_affix(self, c, "startswith", false); }
Value m_endswith(Renderer&, const Value& self, CallArgs& c) { return m_affix(self, c, "endswith", true); }

Value m_find_common(const Value& self, CallArgs& c, const char* name, bool reverse, bool raise) {
  Args a(name, c, {"sub", "start", "end"});
  const int64_t i = py_find(self.str(), str_arg(a.required(0), "substring"), opt_index(a, 1), opt_index(a, 2), reverse);
  if (i < 0 && raise) fail(ErrorKind::Value, "substring not found");
  return Value(i);
}
Value m_find(Renderer&, const Value& self, CallArgs& c) { return m_find_common(self, c, "find", false, false); }
Value m_rfind(Renderer&, const Value& self, CallArgs& c) { return m_find_common(self, c, "rfind", true, false); }
Value m_index(Renderer&, const Value& self, CallArgs& c) { return m_find_common(self, c, "index", false, true); }
Value m_rindex(Renderer&, const Value& self, CallArgs& c) { return m_find_common(self, c, "rindex", true, true); }

Value m_count(Renderer&, const Value& self, CallArgs& c) {
  if (self.is_sequence()) {
    Args a("count", c, {"value"});
    int64_t n = 0;
    for (const Value& v : self.items()) n += equals(v, a.required(0));
    return Value(n);
  }
  Args a("count", c, {"sub", "start", "end"});
  return Value(py_count(self.str(), str_arg(a.required(0), "substring"), opt_index(a, 1), opt_index(a, 2)));
}

Value m_replace(Renderer&, const Value& self, CallArgs& c) {
  Args a("replace", c, {"old", "new", "count"});
  Value old = a.required(0), repl = a.required(1);
  str_arg(old, "replace() argument 1");
  str_arg(repl, "replace() argument 2");
  if (self.is_markup()) {
    old = html_escape(old);
    repl = html_escape(repl);
  }
  return same_kind(self, py_replace(self.str(), old.str(), repl.str(), a.integer(2, -1)));
}

Value m_upper(Renderer&, const Value& self, CallArgs& c) {
  Args a("upper", c, {});
  return same_kind(self, str_upper(self.str()));
}
Value m_lower(Renderer&, const Value& self, CallArgs& c) {
  Args a("lower", c, {});
  return same_kind(self, str_lower(self.str()));
}
Value m_title(Renderer&, const Value& self, CallArgs& c) {
  Args a("title", c, {});
  return same_kind(self, str_title(self.str()));
}
Value m_capitalize(Renderer&, const Value& self, CallArgs& c) {
  Args a("capitalize", c, {});
  return same_kind(self, str_capitalize(self.str()));
}
Value m_swapcase(Renderer&, const Value& self, CallArgs& c) {
  Args a("swapcase", c, {});
  return same_kind(self, str_swapcase(self.str()));
}

template <bool (*Pred)(std::string_view)>
Value m_predicate(Renderer&, const Value& self, CallArgs& c) {
  Args a("is", c, {});
  return Value(Pred(self.str()));
}
bool isalpha_(std::string_view s) { return str_all(s, kAlpha); }
bool isdigit_(std::string_view s) { return str_all(s, kDigit); }
bool isdecimal_(std::string_view s) { return str_all(s, kDecimal); }
bool isnumeric_(std::string_view s) { return str_all(s, kNumeric); }
bool isalnum_(std::string_view s) { return str_all(s, kAlpha | kDecimal | kDigit | kNumeric); }
bool isspace_(std::string_view s) { return str_all(s, kSpace); }
bool isascii_(std::string_view s) { return is_ascii(s); }
bool isprintable_(std::string_view s) { return s.empty() || str_all(s, kPrintable); }
bool isidentifier_(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  const char32_t first = decode_one(s, i);
  if (first != '_' && !(unicode_flags(first) & kAlpha)) return false;
  while (i < s.size())
    if (!is_word(decode_one(s, i))) return false;
  return true;
}

Value m_pad(const Value& self, CallArgs& c, const char* name, char align) {
  Args a(name, c, {"width", "fillchar"});
  std::string fill = " ";
  if (a.has(1)) {
    const Value f = a.get(1, Value());
    if (!f.is_str() || utf8_length(f.str()) != 1)
      fail(ErrorKind::Type, "The fill character must be exactly one character long");
    fill = f.str();
  }
  a.required(0);
  const int64_t width = a.integer(0, 0);
  if (width > int64_t(1) << 28) fail(ErrorKind::Limit, "padding width too large");
  return same_kind(self, py_pad(self.str(), width, fill, align));
}
Value m_center(Renderer&, const Value& self, CallArgs& c) { return m_pad(self, c, "center", '^'); }
Value m_ljust(Renderer&, const Value& self, CallArgs& c) { return m_pad(self, c, "ljust", '<'); }
Value m_rjust(Renderer&, const Value& self, CallArgs& c) { return m_pad(self, c, "rjust", '>'); }
Value m_zfill(Renderer&, const Value& self, CallArgs& c) {
  Args a("zfill", c, {"width"});
  a.required(0);
  const int64_t width = a.integer(0, 0);
  if (width > int64_t(1) << 28) fail(ErrorKind::Limit, "padding width too large");
  return same_kind(self, py_zfill(self.str(), width));
}
Value m_expandtabs(Renderer&, const Value& self, CallArgs& c) {
  Args a("expandtabs", c, {"tabsize"});
  return same_kind(self, py_expandtabs(self.str(), std::min<int64_t>(a.integer(0, 8), 1 << 16)));
}

Value m_join(Renderer& r, const Value& self, CallArgs& c) {
  Args a("join", c, {"iterable"});
  const ValueList items = iterate(a.required(0));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_str())
      fail(ErrorKind::Type, "sequence item " + std::to_string(i) + ": expected str instance, " + type_name(items[i]) + " found");
    if (i) out += self.str();
    out += self.is_markup() ? html_escape(items[i]).str() : items[i].str();
    r.check_size(out.size());
  }
  return same_kind(self, std::move(out));
}

Value m_partition_common(const Value& self, CallArgs& c, bool reverse) {
  Args a(reverse ? "rpartition" : "partition", c, {"sep"});
  const std::string& sep = str_arg(a.required(0), "sep");
  if (sep.empty()) fail(ErrorKind::Value, "empty separator");
  const std::string& s = self.str();
  const size_t hit = reverse ? s.rfind(sep) : s.find(sep);
  if (hit == std::string::npos)
    return reverse ? Value::tuple({Value(""), Value(""), self}) : Value::tuple({self, Value(""), Value("")});
  return Value::tuple({Value(s.substr(0, hit)), Value(sep), Value(s.substr(hit + sep.size()))});
}
Value m_partition(Renderer&, const Value& self, CallArgs& c) { return m_partition_common(self, c, false); }
Value m_rpartition(Renderer&, const Value& self, CallArgs& c) { return m_partition_common(self, c, true); }

Value m_removeprefix(Renderer&, const Value& self, CallArgs& c) {
  Args a("removeprefix", c, {"prefix"});
  const std::string& p = str_arg(a.required(0), "removeprefix() argument");
  const std::string& s = self.str();
  return same_kind(self, s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : s);
}
Value m_removesuffix(Renderer&, const Value& self, CallArgs& c) {
  Args a("removesuffix", c, {"suffix"});
  const std::string& p = str_arg(a.required(0), "removesuffix() argument");
  const std::string& s = self.str();
  const bool ends = !p.empty() && s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
  return same_kind(self, ends ? s.substr(0, s.size() - p.size()) : s);
}

// str.format(): replacement fields {name.attr[key]!conv:spec}, looked up through the sandbox.
std::string format_fields(Renderer& r, const std::string& fmt, CallArgs& c, int depth);

Value m_format(Renderer& r, const Value& self, CallArgs& c) {
  std::string out = format_fields(r, self.str(), c, 0);
  return same_kind(self, std::move(out));
}

std::string format_fields(Renderer& r, const std::string& fmt, CallArgs& c, int depth) {
  if (depth > 2) fail(ErrorKind::Value, "Max string recursion exceeded");
  std::string out;
  size_t auto_index = 0;
  bool manual = false, automatic = false;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char ch = fmt[i];
    if (ch == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      fail(ErrorKind::Value, "Single '}' encountered in format string");
    }
    if (ch != '{') {
      out += ch;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    // Find the matching '}', allowing nested {} in the spec.
    size_t j = i + 1;
    int nest = 1;
    while (j < fmt.size() && nest) {
      if (fmt[j] == '{') ++nest;
      else if (fmt[j] == '}') --nest;
      if (nest) ++j;
    }
    if (j >= fmt.size()) fail(ErrorKind::Value, "expected '}' before end of string");
    const std::string field = fmt.substr(i + 1, j - i - 1);
    i = j;
    // field_name [!conv] [:spec]
    size_t name_end = 0;
    while (name_end < field.size() && field[name_end] != '!' && field[name_end] != ':') {
      if (field[name_end] == '[') {
        const size_t close = field.find(']', name_end);
        if (close == std::string::npos) fail(ErrorKind::Value, "Missing ']' in format string");
        name_end = close;
      }
      ++name_end;
    }
    const std::string name = field.substr(0, name_end);
    char conv = 0;
    std::string spec;
    size_t k = name_end;
    if (k < field.size() && field[k] == '!') {
      if (k + 1 >= field.size()) fail(ErrorKind::Value, "end of string while looking for conversion specifier");
      conv = field[k + 1];
      k += 2;
      if (k < field.size() && field[k] != ':') fail(ErrorKind::Value, "expected ':' after conversion specifier");
    }
    if (k < field.size() && field[k] == ':') spec = field.substr(k + 1);
    // The first part of the name: index, keyword, or empty (automatic numbering).
    size_t p = 0;
    while (p < name.size() && name[p] != '.' && name[p] != '[') ++p;
    const std::string head = name.substr(0, p);
    Value v;
    if (head.empty()) {
      if (manual) fail(ErrorKind::Value, "cannot switch from manual field specification to automatic field numbering");
      automatic = true;
      if (auto_index >= c.args.size()) fail(ErrorKind::Index, "Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
      v = c.args[auto_index++];
    } else if (std::isdigit(static_cast<unsigned char>(head[0]))) {
      if (automatic) fail(ErrorKind::Value, "cannot switch from automatic field numbering to manual field specification");
      manual = true;
      const auto idx = parse_python_int(head, 10);
      if (!idx || *idx < 0 || size_t(*idx) >= c.args.size())
        fail(ErrorKind::Index, "Replacement index " + head + " out of range for positional args tuple");
      v = c.args[size_t(*idx)];
    } else {
      bool found = false;
      for (const auto& [kname, kv] : c.kwargs)
        if (kname == head) {
          v = kv;
          found = true;
        }
      if (!found) fail(ErrorKind::Key, repr_str(head));
    }
    while (p < name.size()) {
      if (name[p] == '.') {
        size_t q = p + 1;
        while (q < name.size() && name[q] != '.' && name[q] != '[') ++q;
        v = r.getattr(v, name.substr(p + 1, q - p - 1));
        p = q;
      } else {
        const size_t close = name.find(']', p);
        const std::string key = name.substr(p + 1, close - p - 1);
        const auto idx = key.empty() || !std::isdigit(static_cast<unsigned char>(key[0])) ? std::nullopt : parse_python_int(key, 10);
        v = r.getitem(v, idx ? Value(*idx) : Value(key));
        p = close + 1;
      }
    }
    if (conv == 'r' || conv == 'a') v = Value(repr(v));
    else if (conv == 's') v = Value(to_str(v));
    else if (conv) fail(ErrorKind::Value, std::string("Unknown conversion specifier ") + conv);
    if (spec.find('{') != std::string::npos) spec = format_fields(r, spec, c, depth + 1);
    out += format_with_spec(v, spec);
    r.check_size(out.size());
  }
  return out;
}

Value m_encode(Renderer&, const Value& self, CallArgs&) {
  fail(ErrorKind::Type, "str.encode() is not supported: templates have no bytes type");
}

// ---- list / tuple ----

Value m_list_index(Renderer&, const Value& self, CallArgs& c) {
  Args a("index", c, {"value", "start", "stop"});
  const ValueList& items = self.items();
  const int64_t n = int64_t(items.size());
  auto clamp = [&](std::optional<int64_t> v, int64_t d) {
    if (!v) return d;
    int64_t x = *v < 0 ? std::max<int64_t>(0, *v + n) : *v;
    return std::min(x, n);
  };
  const int64_t lo = clamp(opt_index(a, 1), 0), hi = clamp(opt_index(a, 2), n);
  for (int64_t i = lo; i < hi; ++i)
    if (equals(items[size_t(i)], a.required(0))) return Value(i);
  fail(ErrorKind::Value, repr(a.required(0)) + " is not in " + type_name(self));
}

Value m_copy(Renderer&, const Value& self, CallArgs& c) {
  Args a("copy", c, {});
  if (self.is_dict()) return Value::dict(self.dict());
  return Value::list(self.items());
}

// ---- dict ----

Value m_get(Renderer&, const Value& self, CallArgs& c) {
  Args a("get", c, {"key", "default"});
  if (const Value* v = self.dict().find(a.required(0))) return *v;
  return a.get(1, Value(nullptr));
}
Value m_items(Renderer&, const Value& self, CallArgs& c) {
  Args a("items", c, {});
  return Value::object(std::make_shared<DictView>(self, DictView::Items));
}
Value m_keys(Renderer&, const Value& self, CallArgs& c) {
  Args a("keys", c, {});
  return Value::object(std::make_shared<DictView>(self, DictView::Keys));
}
Value m_values(Renderer&, const Value& self, CallArgs& c) {
  Args a("values", c, {});
  return Value::object(std::make_shared<DictView>(self, DictView::Values));
}

struct MethodSpec {
  const char* name;
  MethodFunction fn;
};

const MethodSpec kStrMethods[] = {
    {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"split", m_split}, {"rsplit", m_rsplit},
    {"splitlines", m_splitlines}, {"startswith", m_startswith}, {"endswith", m_endswith}, {"find", m_find},
    {"rfind", m_rfind}, {"index", m_index}, {"rindex", m_rindex}, {"count", m_count}, {"replace", m_replace},
    {"upper", m_upper}, {"lower", m_lower}, {"casefold", m_lower}, {"title", m_title}, {"capitalize", m_capitalize},
    {"swapcase", m_swapcase}, {"isalpha", m_predicate<isalpha_>}, {"isdigit", m_predicate<isdigit_>},
    {"isdecimal", m_predicate<isdecimal_>}, {"isnumeric", m_predicate<isnumeric_>}, {"isalnum", m_predicate<isalnum_>},
    {"isspace", m_predicate<isspace_>}, {"isascii", m_predicate<isascii_>}, {"isprintable", m_predicate<isprintable_>},
    {"isidentifier", m_predicate<isidentifier_>}, {"islower", m_predicate<str_islower>},
    {"isupper", m_predicate<str_isupper>}, {"istitle", m_predicate<str_istitle>}, {"center", m_center},
    {"ljust", m_ljust}, {"rjust", m_rjust}, {"zfill", m_zfill}, {"expandtabs", m_expandtabs}, {"join", m_join},
    {"partition", m_partition}, {"rpartition", m_rpartition}, {"removeprefix", m_removeprefix},
    {"removesuffix", m_removesuffix}, {"format", m_format}, {"encode", m_encode},
};
const MethodSpec kListMethods[] = {{"count", m_count}, {"index", m_list_index}, {"copy", m_copy}};
const MethodSpec kTupleMethods[] = {{"count", m_count}, {"index", m_list_index}};
const MethodSpec kDictMethods[] = {{"get", m_get}, {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"copy", m_copy}};
// What the immutable sandbox refuses (jinja2.sandbox's _mutable_spec).
const char* const kListMutators[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};
const char* const kDictMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};

template <size_t N>
const MethodSpec* lookup(const MethodSpec (&table)[N], const std::string& name) {
  for (const auto& m : table)
    if (name == m.name) return &m;
  return nullptr;
}

template <size_t N>
bool listed(const char* const (&names)[N], const std::string& name) {
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

}  // namespace

std::optional<Value> find_method(const Value& self, const std::string& name) {
  const MethodSpec* m = nullptr;
  bool mutator = false;
  if (self.is_str()) {
    m = lookup(kStrMethods, name);
  } else if (self.is_list()) {
    m = lookup(kListMethods, name);
    mutator = listed(kListMutators, name);
  } else if (self.is_tuple()) {
    m = lookup(kTupleMethods, name);
  } else if (self.is_dict()) {
    m = lookup(kDictMethods, name);
    mutator = listed(kDictMutators, name);
  }
  if (mutator)
    return Value::undefined("access to attribute " + repr_str(name) + " of " + repr_str(type_name(self)) + " object is unsafe.",
                            ErrorKind::Security);
  if (!m) return std::nullopt;
  return Value::object(std::make_shared<BoundMethod>(self, name, m->fn));
}

}  // namespace qinfer::jinja
