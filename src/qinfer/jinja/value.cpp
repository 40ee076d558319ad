#include "qinfer/jinja/value.h"

#include <cmath>
#include <functional>

#include "qinfer/jinja/pyformat.h"
#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

namespace {
const std::string kEmpty;

uint32_t nesting_of(const ValueList& items) {
  uint32_t deepest = 0;
  for (const Value& v : items) deepest = std::max(deepest, v.nesting());
  if (deepest + 1 > kMaxNesting) fail(ErrorKind::Limit, "containers nested deeper than " + std::to_string(kMaxNesting));
  return deepest + 1;
}
}  // namespace

Value::Value(std::string s, bool markup) : kind_(Kind::Str), markup_(markup) {
  p_ = std::make_shared<std::string>(std::move(s));
}

Value Value::undefined(std::string hint, ErrorKind kind) {
  Value v;
  v.p_ = std::make_shared<Undef>(Undef{std::move(hint), kind});
  return v;
}

Value Value::list(ValueList items) {
  Value v;
  v.kind_ = Kind::List;
  const uint32_t n = nesting_of(items);
  v.p_ = std::make_shared<Seq>(Seq{std::move(items), n});
  return v;
}

Value Value::tuple(ValueList items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::Tuple;
  return v;
}

Value Value::dict(Dict d) {
  uint32_t deepest = 0;
  for (const auto& [k, val] : d.entries) deepest = std::max({deepest, k.nesting(), val.nesting()});
  if (deepest + 1 > kMaxNesting) fail(ErrorKind::Limit, "containers nested deeper than " + std::to_string(kMaxNesting));
  Value v;
  v.kind_ = Kind::Dict;
  v.p_ = std::make_shared<std::pair<Dict, uint32_t>>(std::move(d), deepest + 1);
  return v;
}

Value Value::object(std::shared_ptr<Object> o) {
  Value v;
  v.kind_ = Kind::Object;
  v.p_ = std::move(o);
  return v;
}

const std::string& Value::str() const { return kind_ == Kind::Str ? *static_cast<std::string*>(p_.get()) : kEmpty; }
const ValueList& Value::items() const { return static_cast<Seq*>(p_.get())->items; }
const Dict& Value::dict() const { return static_cast<std::pair<Dict, uint32_t>*>(p_.get())->first; }
Object& Value::object() const { return *static_cast<Object*>(p_.get()); }

uint32_t Value::nesting() const {
  if (kind_ == Kind::List || kind_ == Kind::Tuple) return static_cast<Seq*>(p_.get())->nesting;
  if (kind_ == Kind::Dict) return static_cast<std::pair<Dict, uint32_t>*>(p_.get())->second;
  return 0;
}

const std::string& Value::undefined_hint() const {
  return kind_ == Kind::Undefined && p_ ? static_cast<Undef*>(p_.get())->hint : kEmpty;
}

void Value::raise_undefined() const {
  if (kind_ == Kind::Undefined && p_) {
    const Undef& u = *static_cast<Undef*>(p_.get());
    fail(u.kind, u.hint);
  }
  fail(ErrorKind::Undefined, "'undefined' is undefined");
}

// ---- Dict ----

const Value* Dict::find(const Value& key) const {
  if (index_.empty()) {
    for (const auto& [k, v] : entries)
      if (equals(k, key)) return &v;
    // Not found: still check that the key is hashable, as Python does.
    hash_value(key);
    return nullptr;
  }
  auto [lo, hi] = index_.equal_range(hash_value(key));
  for (auto it = lo; it != hi; ++it)
    if (equals(entries[it->second].first, key)) return &entries[it->second].second;
  return nullptr;
}

void Dict::set(const Value& key, Value value) {
  const size_t h = hash_value(key);
  if (index_.empty()) {
    for (auto& [k, v] : entries)
      if (equals(k, key)) {
        v = std::move(value);
        return;
      }
  } else {
    auto [lo, hi] = index_.equal_range(h);
    for (auto it = lo; it != hi; ++it)
      if (equals(entries[it->second].first, key)) {
        entries[it->second].second = std::move(value);
        return;
      }
  }
  entries.emplace_back(key, std::move(value));
  constexpr size_t kIndexFrom = 16;
  if (entries.size() == kIndexFrom) {
    for (size_t i = 0; i < entries.size(); ++i) index_.emplace(hash_value(entries[i].first), i);
  } else if (entries.size() > kIndexFrom) {
    index_.emplace(h, entries.size() - 1);
  }
}

// ---- Object defaults ----

std::string Object::repr() const {
  std::string out = "<";
  if (!module().empty()) out += module() + ".";
  out += type_name();
  out += " object>";
  return out;
}

Value Object::call(Renderer&, CallArgs&) { fail(ErrorKind::Type, "'" + type_name() + "' object is not callable"); }

ValueList Object::iterate() { fail(ErrorKind::Type, "'" + type_name() + "' object is not iterable"); }

// ---- protocols ----

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return v.boolean();
    case Kind::Int: return v.integer() != 0;
    case Kind::Float: return v.number() != 0.0;
    case Kind::Str: return !v.str().empty();
    case Kind::List:
    case Kind::Tuple: return !v.items().empty();
    case Kind::Dict: return v.dict().size() != 0;
    case Kind::Object: return v.object().truthy();
  }
  return false;
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number() == b.number();
    return a.integer() == b.integer();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None: return true;  // jinja2: any two Undefined compare equal
    case Kind::Str: return a.str() == b.str();
    case Kind::List:
    case Kind::Tuple: {
      const ValueList &x = a.items(), &y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case Kind::Dict: {
      const Dict &x = a.dict(), &y = b.dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* w = y.find(k);
        if (!w || !equals(v, *w)) return false;
      }
      return true;
    }
    case Kind::Object: return &a.object() == &b.object();
    default: return false;
  }
}

namespace {
[[noreturn]] void unorderable(const char* op, const Value& a, const Value& b) {
  fail(ErrorKind::Type, std::string("'") + op + "' not supported between instances of '" + type_name(a) + "' and '" +
                            type_name(b) + "'");
}
}  // namespace

bool less_than(const Value& a, const Value& b) {
  if (a.is_undefined()) a.raise_undefined();
  if (b.is_undefined()) b.raise_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number() < b.number();
    return a.integer() < b.integer();
  }
  if (a.is_str() && b.is_str()) return a.str() < b.str();  // UTF-8 byte order is code point order
  if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
    const ValueList &x = a.items(), &y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equals(x[i], y[i])) return less_than(x[i], y[i]);
    return x.size() < y.size();
  }
  unorderable("<", a, b);
}

size_t hash_value(const Value& v) {
  switch (v.kind()) {
    case Kind::None: return 0x5bd1e995;
    case Kind::Bool:
    case Kind::Int: return std::hash<int64_t>()(v.integer());
    case Kind::Float: {
      const double f = v.number();
      if (std::isfinite(f) && f == std::floor(f) && std::fabs(f) < 9.2e18) return std::hash<int64_t>()(int64_t(f));
      return std::hash<double>()(f);
    }
    case Kind::Str: return std::hash<std::string>()(v.str());
    case Kind::Tuple: {
      size_t h = 0x345678;
      for (const Value& e : v.items()) h = h * 1000003 ^ hash_value(e);
      return h;
    }
    case Kind::Object: return std::hash<const void*>()(&v.object());
    case Kind::Undefined: return 0x1234567;
    default: fail(ErrorKind::Type, "unhashable type: '" + type_name(v) + "'");
  }
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return v.is_markup() ? "Markup" : "str";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Object: return v.object().type_name();
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.is_markup()) return "markupsafe.Markup object";
  if (v.is_undefined()) return "jinja2.runtime.Undefined object";
  if (v.is_object() && !v.object().module().empty()) return v.object().module() + "." + v.object().type_name() + " object";
  return type_name(v) + " object";
}

std::string repr_str(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  static const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    const char32_t c = decode_one(s, i);
    if (c == char32_t(quote) || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else if (c < 0x80 || (unicode_flags(c) & kPrintable)) {
      append_utf8(out, c);
    } else {
      const int digits = c < 0x100 ? 2 : c < 0x10000 ? 4 : 8;
      out += digits == 2 ? "\\x" : digits == 4 ? "\\u" : "\\U";
      for (int k = digits - 1; k >= 0; --k) out += hex[(c >> (4 * k)) & 15];
    }
  }
  out += quote;
  return out;
}

std::string repr(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "None";
    case Kind::Bool: return v.boolean() ? "True" : "False";
    case Kind::Int: return std::to_string(v.integer());
    case Kind::Float: return float_repr(v.number());
    case Kind::Str: return v.is_markup() ? "Markup(" + repr_str(v.str()) + ")" : repr_str(v.str());
    case Kind::List:
    case Kind::Tuple: {
      const bool list = v.is_list();
      std::string out = list ? "[" : "(";
      const ValueList& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += repr(items[i]);
      }
      if (!list && items.size() == 1) out += ",";
      out += list ? "]" : ")";
      return out;
    }
    case Kind::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : v.dict().entries) {
        if (!first) out += ", ";
        first = false;
        out += repr(k) + ": " + repr(val);
      }
      return out + "}";
    }
    case Kind::Object: return v.object().repr();
  }
  return "";
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return "";
    case Kind::Str: return v.str();
    default: return repr(v);
  }
}

std::optional<int64_t> length(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return 0;
    case Kind::Str: return int64_t(utf8_length(v.str()));
    case Kind::List:
    case Kind::Tuple: return int64_t(v.items().size());
    case Kind::Dict: return int64_t(v.dict().size());
    case Kind::Object: return v.object().length();
    default: return std::nullopt;
  }
}

bool is_iterable(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::Str:
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict: return true;
    case Kind::Object: return v.object().iterable();
    default: return false;
  }
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return {};
    case Kind::Str: {
      ValueList out;
      const std::string& s = v.str();
      for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        decode_one(s, i);
        out.emplace_back(s.substr(start, i - start), v.is_markup());
      }
      return out;
    }
    case Kind::List:
    case Kind::Tuple: return v.items();
    case Kind::Dict: {
      ValueList out;
      out.reserve(v.dict().size());
      for (const auto& e : v.dict().entries) out.push_back(e.first);
      return out;
    }
    case Kind::Object: return v.object().iterate();
    default: fail(ErrorKind::Type, "'" + type_name(v) + "' object is not iterable");
  }
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::Str:
      if (!item.is_str())
        fail(ErrorKind::Type, "'in <string>' requires string as left operand, not " + type_name(item));
      return container.str().find(item.str()) != std::string::npos;
    case Kind::List:
    case Kind::Tuple:
      for (const Value& e : container.items())
        if (equals(e, item)) return true;
      return false;
    case Kind::Dict: return container.dict().find(item) != nullptr;
    case Kind::Undefined: return false;
    case Kind::Object:
      if (container.object().iterable()) {
        for (const Value& e : container.object().iterate())
          if (equals(e, item)) return true;
        return false;
      }
      [[fallthrough]];
    default: fail(ErrorKind::Type, "argument of type '" + type_name(container) + "' is not iterable");
  }
}

Value html_escape(const Value& v) {
  if (v.is_markup()) return v;
  const std::string s = to_str(v);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      default: out += c;
    }
  }
  return Value(std::move(out), true);
}

}  // namespace qinfer::jinja
