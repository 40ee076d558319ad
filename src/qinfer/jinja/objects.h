// The objects a template can hold besides plain data: macros, built-in
// functions and bound methods, namespace(), the loop variable, cycler/joiner,
// range, slices, dict views, and the one-shot iterators (generators) that
// filters such as map and selectattr return.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qinfer/jinja/ast.h"
#include "qinfer/jinja/scope.h"
#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

using NativeFunction = std::function<Value(Renderer&, CallArgs&)>;

class BuiltinFunction : public Object {
 public:
  // repr: how Python prints the callable ("<class 'dict'>"); default "<built-in function NAME>".
  BuiltinFunction(std::string name, NativeFunction fn, std::string repr = "")
      : name_(std::move(name)), fn_(std::move(fn)), repr_(std::move(repr)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override { return repr_.empty() ? "<built-in function " + name_ + ">" : repr_; }
  bool callable() const override { return true; }
  Value call(Renderer& r, CallArgs& args) override { return fn_(r, args); }

 private:
  std::string name_;
  NativeFunction fn_;
  std::string repr_;
};

// A method of a str/list/dict value, bound to it (`s.strip`).
using MethodFunction = Value (*)(Renderer&, const Value& self, CallArgs&);
class BoundMethod : public Object {
 public:
  BoundMethod(Value self, std::string name, MethodFunction fn) : self_(std::move(self)), name_(std::move(name)), fn_(fn) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override { return "<built-in method " + name_ + " of " + jinja::type_name(self_) + " object>"; }
  bool callable() const override { return true; }
  Value call(Renderer& r, CallArgs& args) override { return fn_(r, self_, args); }

 private:
  Value self_;
  std::string name_;
  MethodFunction fn_;
};

class MacroObject : public Object {
 public:
  MacroObject(const ast::Macro& m, ScopePtr closure, bool is_caller) : m_(m), closure_(std::move(closure)), is_caller_(is_caller) {}
  std::string type_name() const override { return "Macro"; }
  std::string module() const override { return "jinja2.runtime"; }
  std::string repr() const override { return "<Macro " + repr_str(m_.name) + ">"; }
  std::optional<Value> attribute(const std::string& name) override;
  bool callable() const override { return true; }
  Value call(Renderer& r, CallArgs& args) override;
  // Drops the defining scope. That scope usually holds this macro, a
  // reference cycle the renderer breaks this way when it finishes.
  void release_closure() { closure_.reset(); }

 private:
  const ast::Macro& m_;
  ScopePtr closure_;
  bool is_caller_;
};

class Namespace : public Object {
 public:
  explicit Namespace(Dict attrs) : attrs_(std::move(attrs)) {}
  std::string type_name() const override { return "Namespace"; }
  std::string module() const override { return "jinja2.utils"; }
  std::string repr() const override { return "<Namespace " + jinja::repr(Value::dict(attrs_)) + ">"; }
  std::optional<Value> attribute(const std::string& name) override {
    if (const Value* v = attrs_.find(Value(name))) return *v;
    return std::nullopt;
  }
  void set(const std::string& name, Value v) { attrs_.set(Value(name), std::move(v)); }

 private:
  Dict attrs_;
};

// The `loop` variable of a for loop; updated in place as the loop advances.
class LoopObject : public Object, public std::enable_shared_from_this<LoopObject> {
 public:
  using Recurse = std::function<std::string(Renderer&, const Value& iterable, int depth)>;
  LoopObject(std::shared_ptr<const ValueList> items, int depth0, Recurse recurse)
      : items_(std::move(items)), depth0_(depth0), recurse_(std::move(recurse)) {}
  void advance(size_t index0) { index0_ = index0; }
  std::string type_name() const override { return "LoopContext"; }
  std::string module() const override { return "jinja2.runtime"; }
  std::string repr() const override {
    return "<LoopContext " + std::to_string(index0_ + 1) + "/" + std::to_string(items_->size()) + ">";
  }
  std::optional<Value> attribute(const std::string& name) override;
  bool callable() const override { return true; }
  Value call(Renderer& r, CallArgs& args) override;
  // Python's LoopContext is its own iterator: iterating it consumes the rest
  // of the loop, which then ends after the current iteration.
  bool iterable() const override { return true; }
  ValueList iterate() override {
    ValueList rest;
    if (!exhausted_)
      for (size_t i = index0_ + 1; i < items_->size(); ++i) rest.push_back((*items_)[i]);
    exhausted_ = true;
    return rest;
  }
  bool exhausted() const { return exhausted_; }

 private:
  std::shared_ptr<const ValueList> items_;
  bool exhausted_ = false;
  size_t index0_ = 0;
  int depth0_;
  Recurse recurse_;
  bool has_changed_ = false;
  Value last_changed_;
};

class Cycler : public Object, public std::enable_shared_from_this<Cycler> {
 public:
  explicit Cycler(ValueList items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  std::string module() const override { return "jinja2.utils"; }
  std::optional<Value> attribute(const std::string& name) override;
  Value current() const { return items_[pos_]; }
  Value next() {
    Value v = items_[pos_];
    pos_ = (pos_ + 1) % items_.size();
    return v;
  }
  void reset() { pos_ = 0; }

 private:
  ValueList items_;
  size_t pos_ = 0;
};

class Joiner : public Object {
 public:
  explicit Joiner(std::string sep) : sep_(std::move(sep)) {}
  std::string type_name() const override { return "Joiner"; }
  std::string module() const override { return "jinja2.utils"; }
  bool callable() const override { return true; }
  Value call(Renderer&, CallArgs&) override {
    if (!used_) {
      used_ = true;
      return Value("");
    }
    return Value(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

// groupby's (grouper, list) namedtuple: a 2-tuple with named fields.
class GroupTuple : public Object {
 public:
  GroupTuple(Value grouper, Value list) : grouper_(std::move(grouper)), list_(std::move(list)) {}
  std::string type_name() const override { return "_GroupTuple"; }
  std::string repr() const override { return jinja::repr(as_tuple()); }
  std::optional<Value> attribute(const std::string& name) override {
    if (name == "grouper") return grouper_;
    if (name == "list") return list_;
    return std::nullopt;
  }
  bool iterable() const override { return true; }
  ValueList iterate() override { return {grouper_, list_}; }
  std::optional<int64_t> length() const override { return 2; }
  bool has_items() const override { return true; }
  Value as_tuple() const { return Value::tuple({grouper_, list_}); }

 private:
  Value grouper_, list_;
};

class RangeObject : public Object {
 public:
  RangeObject(int64_t start, int64_t stop, int64_t step) : start_(start), stop_(stop), step_(step) {}
  std::string type_name() const override { return "range"; }
  std::string repr() const override {
    return "range(" + std::to_string(start_) + ", " + std::to_string(stop_) + (step_ == 1 ? "" : ", " + std::to_string(step_)) + ")";
  }
  bool iterable() const override { return true; }
  ValueList iterate() override;
  std::optional<int64_t> length() const override;
  bool has_items() const override { return true; }
  Value at(int64_t i) const { return Value(start_ + i * step_); }
  Value slice(const Value& start, const Value& stop, const Value& step) const;  // range(...)[a:b:c] is a range

 private:
  int64_t start_, stop_, step_;
};

class SliceObject : public Object {
 public:
  SliceObject(Value start, Value stop, Value step) : start(std::move(start)), stop(std::move(stop)), step(std::move(step)) {}
  std::string type_name() const override { return "slice"; }
  std::string repr() const override {
    return "slice(" + jinja::repr(start) + ", " + jinja::repr(stop) + ", " + jinja::repr(step) + ")";
  }
  Value start, stop, step;
};

// keys() / values() / items() of a dict: re-iterable, sized, not indexable.
class DictView : public Object {
 public:
  enum Which { Keys, Values, Items };
  DictView(Value dict, Which w) : dict_(std::move(dict)), which_(w) {}
  std::string type_name() const override { return which_ == Keys ? "dict_keys" : which_ == Values ? "dict_values" : "dict_items"; }
  std::string repr() const override { return type_name() + "(" + jinja::repr(Value::list(iterate_const())) + ")"; }
  bool iterable() const override { return true; }
  ValueList iterate() override { return iterate_const(); }
  std::optional<int64_t> length() const override { return int64_t(dict_.dict().size()); }

 private:
  ValueList iterate_const() const;
  Value dict_;
  Which which_;
};

// A one-shot iterator (Python generator / reversed() / iter()): iterating
// consumes it; it is always true and has no length.
// Filters that Python writes as generator functions (map, select, items, ...)
// produce their items lazily: nothing runs, and nothing can fail, until the
// generator is first consumed.
class IteratorObject : public Object {
 public:
  using Producer = std::function<ValueList()>;
  IteratorObject(std::string type, ValueList items) : type_(std::move(type)), items_(std::move(items)) {}
  IteratorObject(std::string type, Producer producer) : type_(std::move(type)), producer_(std::move(producer)) {}
  std::string type_name() const override { return type_; }
  std::string repr() const override { return "<" + type_ + " object>"; }
  bool iterable() const override { return true; }
  ValueList iterate() override {
    materialize();
    ValueList rest(items_.begin() + std::ptrdiff_t(pos_), items_.end());
    pos_ = items_.size();
    return rest;
  }
  bool truthy() const override { return true; }
  // next(): the next item, consuming it; nullopt when exhausted.
  std::optional<Value> next() {
    materialize();
    if (pos_ >= items_.size()) return std::nullopt;
    return items_[pos_++];
  }

 private:
  void materialize() {
    if (!producer_) return;
    Producer p = std::move(producer_);
    producer_ = nullptr;  // a generator that raised is exhausted afterwards, as in Python
    items_ = p();
  }
  std::string type_;
  ValueList items_;
  Producer producer_;
  size_t pos_ = 0;
};

Value make_iterator(std::string type, ValueList items);
Value make_generator(IteratorObject::Producer producer);

}  // namespace qinfer::jinja
