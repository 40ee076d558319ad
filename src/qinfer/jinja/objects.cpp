#include "qinfer/jinja/objects.h"

#include "qinfer/jinja/operators.h"
#include "qinfer/jinja/renderer.h"

namespace qinfer::jinja {

Value make_iterator(std::string type, ValueList items) {
  return Value::object(std::make_shared<IteratorObject>(std::move(type), std::move(items)));
}

Value make_generator(IteratorObject::Producer producer) {
  return Value::object(std::make_shared<IteratorObject>("generator", std::move(producer)));
}

// ---- macros ----

std::optional<Value> MacroObject::attribute(const std::string& name) {
  if (name == "name") return Value(m_.name);
  if (name == "arguments") {
    ValueList names;
    for (const auto& p : m_.params) names.emplace_back(p);
    return Value::tuple(std::move(names));
  }
  if (name == "catch_kwargs") return Value(m_.uses_kwargs);
  if (name == "catch_varargs") return Value(m_.uses_varargs);
  if (name == "caller") return Value(m_.uses_caller);
  return std::nullopt;
}

Value MacroObject::call(Renderer& r, CallArgs& args) {
  Renderer::CallGuard guard(r);
  auto scope = Renderer::frame(closure_, m_.hidden);
  const size_t n = m_.params.size();
  const size_t first_default = n - m_.defaults.size();
  auto take_kwarg = [&](const std::string& name) -> std::optional<Value> {
    for (auto it = args.kwargs.begin(); it != args.kwargs.end(); ++it)
      if (it->first == name) {
        Value v = std::move(it->second);
        args.kwargs.erase(it);
        return v;
      }
    return std::nullopt;
  };
  bool found_caller = false;
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = m_.params[i];
    if (i < args.args.size()) {
      scope->set(p, args.args[i]);
      continue;
    }
    if (p == "caller") found_caller = true;
    if (auto v = take_kwarg(p)) scope->set(p, *v);
    else if (i >= first_default) scope->set(p, r.eval(*m_.defaults[i - first_default], scope));
    else scope->set(p, Value::undefined("parameter " + repr_str(p) + " was not provided"));
  }
  if (args.args.size() >= n) {
    for (const auto& p : m_.params) found_caller |= p == "caller";
  }
  if (m_.uses_caller && !found_caller) {
    auto c = take_kwarg("caller");
    scope->set("caller", c && !c->is_none() ? *c : Value::undefined("No caller defined"));
  }
  if (m_.uses_kwargs) {
    Dict kw;
    for (auto& [k, v] : args.kwargs) kw.set(Value(k), v);
    scope->set("kwargs", Value::dict(std::move(kw)));
  } else if (!args.kwargs.empty()) {
    const std::string who = is_caller_ ? "caller" : m_.name;
    for (const auto& [k, v] : args.kwargs)
      if (k == "caller")
        fail(ErrorKind::Type, "macro " + repr_str(who) + " was invoked with two values for the special caller argument. "
                              "This is most likely a bug.");
    fail(ErrorKind::Type, "macro " + repr_str(who) + " takes no keyword argument " + repr_str(args.kwargs.front().first));
  }
  if (m_.uses_varargs) {
    ValueList rest;
    for (size_t i = n; i < args.args.size(); ++i) rest.push_back(args.args[i]);
    scope->set("varargs", Value::tuple(std::move(rest)));
  } else if (args.args.size() > n) {
    fail(ErrorKind::Type, "macro " + repr_str(is_caller_ ? "caller" : m_.name) + " takes not more than " +
                              std::to_string(n) + " argument(s)");
  }
  return Value(r.run_macro_body(m_.body, scope));
}

// ---- loop ----

std::optional<Value> LoopObject::attribute(const std::string& name) {
  const int64_t n = int64_t(items_->size());
  const int64_t i = int64_t(index0_);
  if (name == "index0") return Value(i);
  if (name == "index") return Value(i + 1);
  if (name == "revindex") return Value(n - i);
  if (name == "revindex0") return Value(n - i - 1);
  if (name == "first") return Value(i == 0);
  if (name == "last") return Value(i == n - 1);
  if (name == "length") return Value(n);
  if (name == "depth0") return Value(int64_t(depth0_));
  if (name == "depth") return Value(int64_t(depth0_) + 1);
  if (name == "previtem") return i > 0 ? (*items_)[size_t(i - 1)] : Value::undefined("there is no previous item");
  if (name == "nextitem") return i + 1 < n ? (*items_)[size_t(i + 1)] : Value::undefined("there is no next item");
  if (name == "cycle") {
    auto self = shared_from_this();
    return Value::object(std::make_shared<BuiltinFunction>("cycle", [self](Renderer&, CallArgs& a) {
      if (a.args.empty()) fail(ErrorKind::Type, "no items for cycling given");
      return a.args[self->index0_ % a.args.size()];
    }));
  }
  if (name == "changed") {
    auto self = shared_from_this();
    return Value::object(std::make_shared<BuiltinFunction>("changed", [self](Renderer&, CallArgs& a) {
      Value now = Value::tuple(a.args);
      if (self->has_changed_ && equals(self->last_changed_, now)) return Value(false);
      self->has_changed_ = true;
      self->last_changed_ = std::move(now);
      return Value(true);
    }));
  }
  return std::nullopt;
}

Value LoopObject::call(Renderer& r, CallArgs& args) {
  if (!recurse_) fail(ErrorKind::Type, "The loop must have the 'recursive' marker to be called recursively.");
  if (args.args.size() != 1 || !args.kwargs.empty()) fail(ErrorKind::Type, "loop() takes exactly one argument");
  return Value(recurse_(r, args.args[0], depth0_ + 1));
}

// ---- cycler ----

std::optional<Value> Cycler::attribute(const std::string& name) {
  auto self = shared_from_this();
  if (name == "current") return current();
  if (name == "next")
    return Value::object(std::make_shared<BuiltinFunction>("next", [self](Renderer&, CallArgs&) { return self->next(); }));
  if (name == "reset")
    return Value::object(std::make_shared<BuiltinFunction>("reset", [self](Renderer&, CallArgs&) {
      self->reset();
      return Value(nullptr);
    }));
  return std::nullopt;
}

// ---- range, dict views ----

std::optional<int64_t> RangeObject::length() const {
  if (step_ > 0) return start_ < stop_ ? (stop_ - start_ - 1) / step_ + 1 : 0;
  return start_ > stop_ ? (start_ - stop_ - 1) / (-step_) + 1 : 0;
}

ValueList RangeObject::iterate() {
  ValueList out;
  const int64_t n = *length();
  out.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(at(i));
  return out;
}

Value RangeObject::slice(const Value& start, const Value& stop, const Value& step) const {
  // The indices a list slice would pick, mapped back onto this range.
  ValueList idx;
  const int64_t n = *length();
  for (int64_t i = 0; i < n; ++i) idx.emplace_back(i);
  const ValueList picked = slice_sequence(Value::list(std::move(idx)), start, stop, step).items();
  const int64_t s = step.is_none() ? 1 : step.integer();
  if (picked.empty()) {
    const int64_t at = picked.empty() ? 0 : picked[0].integer();
    return Value::object(std::make_shared<RangeObject>(start_ + at * step_, start_ + at * step_, step_ * s));
  }
  const int64_t first = picked.front().integer(), last = picked.back().integer();
  return Value::object(std::make_shared<RangeObject>(start_ + first * step_, start_ + (last + (s > 0 ? 1 : -1)) * step_, step_ * s));
}

ValueList DictView::iterate_const() const {
  ValueList out;
  for (const auto& [k, v] : dict_.dict().entries) {
    if (which_ == Keys) out.push_back(k);
    else if (which_ == Values) out.push_back(v);
    else out.push_back(Value::tuple({k, v}));
  }
  return out;
}

}  // namespace qinfer::jinja
