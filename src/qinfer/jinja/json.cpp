#include "qinfer/jinja/json.h"

#include <algorithm>
#include <cmath>

#include "qinfer/jinja/pyformat.h"
#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

namespace {

Value from_json_at(const nlohmann::ordered_json& j, uint32_t depth) {
  if (depth > kMaxNesting) fail(ErrorKind::Limit, "JSON nested deeper than " + std::to_string(kMaxNesting));
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value(nullptr);
    case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) fail(ErrorKind::Overflow, "JSON integer " + std::to_string(u) + " is beyond 64 bits");
      return Value(int64_t(u));
    }
    case nlohmann::json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      if (!valid_utf8(s)) fail(ErrorKind::Value, "JSON string is not valid UTF-8");
      return Value(s);
    }
    case nlohmann::json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!valid_utf8(it.key())) fail(ErrorKind::Value, "JSON key is not valid UTF-8");
        d.set(Value(it.key()), from_json_at(it.value(), depth + 1));
      }
      return Value::dict(std::move(d));
    }
    default: fail(ErrorKind::Type, "JSON value of this type (binary/discarded) has no template equivalent");
  }
}

void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  auto u4 = [&](unsigned v) {
    out += "\\u";
    for (int k = 3; k >= 0; --k) out += hex[(v >> (4 * k)) & 15];
  };
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const char32_t c = decode_one(s, i);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          u4(unsigned(c));
        } else if (c >= 0x80 && ensure_ascii) {
          if (c >= 0x10000) {
            const unsigned v = unsigned(c) - 0x10000;
            u4(0xD800 | (v >> 10));
            u4(0xDC00 | (v & 0x3FF));
          } else {
            u4(unsigned(c));
          }
        } else {
          out.append(s, start, i - start);
        }
    }
  }
  out += '"';
}

std::string float_json(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
  return float_repr(f);
}

[[noreturn]] void not_serializable(const Value& v) {
  fail(ErrorKind::Type, "Object of type " + type_name(v) + " is not JSON serializable");
}

struct Dumper {
  const JsonDumpOptions& o;
  std::string out;

  void newline(int level) {
    out += '\n';
    for (int k = 0; k < level; ++k) out += o.indent;
  }

  std::string key_text(const Value& k) {
    switch (k.kind()) {
      case Kind::Str: return k.str();
      case Kind::Bool: return k.boolean() ? "true" : "false";
      case Kind::Int: return std::to_string(k.integer());
      case Kind::Float: return float_json(k.number());
      case Kind::None: return "null";
      default: fail(ErrorKind::Type, "keys must be str, int, float, bool or None, not " + type_name(k));
    }
  }

  void dump(const Value& v, int level) {
    switch (v.kind()) {
      case Kind::None: out += "null"; return;
      case Kind::Bool: out += v.boolean() ? "true" : "false"; return;
      case Kind::Int: out += std::to_string(v.integer()); return;
      case Kind::Float: out += float_json(v.number()); return;
      case Kind::Str: dump_string(out, v.str(), o.ensure_ascii); return;
      case Kind::List:
      case Kind::Tuple: {
        const ValueList& items = v.items();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += o.item_separator;
          if (o.has_indent) newline(level + 1);
          dump(items[i], level + 1);
        }
        if (o.has_indent) newline(level);
        out += ']';
        return;
      }
      case Kind::Dict: {
        const Dict& d = v.dict();
        if (d.size() == 0) {
          out += "{}";
          return;
        }
        std::vector<const std::pair<Value, Value>*> entries;
        for (const auto& e : d.entries) entries.push_back(&e);
        if (o.sort_keys)
          std::stable_sort(entries.begin(), entries.end(),
                           [](const auto* a, const auto* b) { return less_than(a->first, b->first); });
        out += '{';
        bool first = true;
        for (const auto* e : entries) {
          if (!first) out += o.item_separator;
          first = false;
          if (o.has_indent) newline(level + 1);
          dump_string(out, key_text(e->first), o.ensure_ascii);
          out += o.key_separator;
          dump(e->second, level + 1);
        }
        if (o.has_indent) newline(level);
        out += '}';
        return;
      }
      default: not_serializable(v);
    }
  }
};

}  // namespace

Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

std::string to_json(const Value& v, const JsonDumpOptions& options) {
  Dumper d{options, {}};
  d.dump(v, 0);
  return std::move(d.out);
}

}  // namespace qinfer::jinja
