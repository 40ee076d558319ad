// Template values with Python's semantics: None, bool, int, float, str (with
// markupsafe's Markup flag), list, tuple, dict (insertion-ordered), objects
// (macros, bound methods, namespace, loop, generators) and jinja2's Undefined,
// which remembers why it is undefined so that using it raises the right error.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "qinfer/jinja/error.h"

namespace qinfer::jinja {

class Value;
class Object;
class Renderer;
struct Dict;
using ValueList = std::vector<Value>;

enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, Str, List, Tuple, Dict, Object };

// Containers deeper than this are refused (Python's recursion limit is of this
// order); it keeps repr, comparison and destruction off deep native stacks.
inline constexpr uint32_t kMaxNesting = 512;

struct CallArgs {
  ValueList args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

class Value {
 public:
  Value() : kind_(Kind::Undefined) {}  // an Undefined with no name
  Value(std::nullptr_t) : kind_(Kind::None) {}
  Value(bool b) : kind_(Kind::Bool) { b_ = b; }
  Value(int64_t i) : kind_(Kind::Int) { i_ = i; }
  Value(int i) : Value(int64_t(i)) {}
  Value(double f) : kind_(Kind::Float) { f_ = f; }
  Value(std::string s, bool markup = false);
  Value(const char* s) : Value(std::string(s)) {}

  static Value undefined(std::string hint, ErrorKind kind = ErrorKind::Undefined);
  static Value list(ValueList items);
  static Value tuple(ValueList items);
  static Value dict(Dict d);
  static Value object(std::shared_ptr<Object> o);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python: bool is an int
  bool is_number() const { return is_integral() || kind_ == Kind::Float; }
  bool is_str() const { return kind_ == Kind::Str; }
  bool is_markup() const { return kind_ == Kind::Str && markup_; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_tuple() const { return kind_ == Kind::Tuple; }
  bool is_sequence() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_object() const { return kind_ == Kind::Object; }

  bool boolean() const { return b_; }
  int64_t integer() const { return kind_ == Kind::Bool ? int64_t(b_) : i_; }
  double number() const { return kind_ == Kind::Float ? f_ : double(integer()); }
  const std::string& str() const;
  const ValueList& items() const;
  const Dict& dict() const;
  Object& object() const;
  template <class T>
  T* object_as() const {
    return kind_ == Kind::Object ? dynamic_cast<T*>(&object()) : nullptr;
  }
  uint32_t nesting() const;  // 0 for scalars, 1 + the deepest element for containers

  const std::string& undefined_hint() const;
  // Raises what using this Undefined raises (UndefinedError, or SecurityError
  // for an attribute the sandbox refused).
  [[noreturn]] void raise_undefined() const;

 private:
  struct Undef {
    std::string hint;
    ErrorKind kind;
  };
  struct Seq {
    ValueList items;
    uint32_t nesting;
  };
  Kind kind_;
  bool markup_ = false;
  union {
    bool b_;
    int64_t i_ = 0;
    double f_;
  };
  std::shared_ptr<void> p_;
};

// Insertion-ordered mapping with Python's key equality (1 == 1.0 == True).
struct Dict {
  std::vector<std::pair<Value, Value>> entries;
  const Value* find(const Value& key) const;
  void set(const Value& key, Value value);  // keeps the position of an existing key
  size_t size() const { return entries.size(); }

 private:
  std::unordered_multimap<size_t, size_t> index_;  // hash -> entry, kept once the dict grows
};

// Objects other than the built-in containers. Each knows its Python type name
// and which of Python's protocols it supports.
class Object {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;           // type(x).__name__
  virtual std::string module() const { return ""; }    // "" for builtins, else e.g. "jinja2.utils"
  virtual std::string repr() const;
  virtual std::optional<Value> attribute(const std::string& name) { return std::nullopt; }
  virtual bool callable() const { return false; }
  virtual Value call(Renderer& r, CallArgs& args);
  virtual bool iterable() const { return false; }
  virtual ValueList iterate();                          // consumes an iterator
  virtual std::optional<int64_t> length() const { return std::nullopt; }
  virtual bool truthy() const {
    auto n = length();
    return !n || *n != 0;
  }
  virtual bool has_items() const { return false; }     // supports [] (a dict view does not)
};

// Python's protocols over values.
bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);
// a < b as Python orders them; TypeError for unorderable pairs.
bool less_than(const Value& a, const Value& b);
size_t hash_value(const Value& v);  // TypeError for unhashable values
std::string type_name(const Value& v);
// "dict object" / "None": how jinja2's Undefined messages name an object.
std::string object_type_repr(const Value& v);
std::string to_str(const Value& v);  // str()
std::string repr(const Value& v);    // repr()
std::string repr_str(const std::string& s);
std::optional<int64_t> length(const Value& v);  // len(), if defined
// iter(): the elements (list/tuple items, dict keys, characters); TypeError if not iterable.
ValueList iterate(const Value& v);
bool is_iterable(const Value& v);
bool contains(const Value& container, const Value& item);  // Python's `in`
// markupsafe.escape(): HTML-escapes str(v) unless v is already markup.
Value html_escape(const Value& v);

}  // namespace qinfer::jinja
