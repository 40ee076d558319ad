#include "qinfer/jinja/renderer.h"

#include <algorithm>

#include "qinfer/jinja/builtins.h"
#include "qinfer/jinja/objects.h"
#include "qinfer/jinja/operators.h"

namespace qinfer::jinja {

using namespace ast;

namespace {
bool needs_context(const FilterOrTest& f) {
  static const char* const kContextFilters[] = {"map", "select", "reject", "selectattr", "rejectattr", "random"};
  if (f.function < 0 || !f.subject) return true;
  if (f.kind == ExprKind::Filter)
    for (const char* n : kContextFilters)
      if (f.name == n) return true;
  return false;
}
}  // namespace

void Renderer::tick(uint64_t n) {
  steps_ += n;
  if (steps_ > env_.limits.max_steps)
    fail(ErrorKind::Limit, "template evaluation stopped after " + std::to_string(env_.limits.max_steps) + " steps");
}

void Renderer::check_size(size_t bytes) const {
  if (bytes > env_.limits.max_output_bytes)
    fail(ErrorKind::Limit, "template output beyond the " + std::to_string(env_.limits.max_output_bytes) + "-byte limit");
}

Renderer::CallGuard::CallGuard(Renderer& r) : r_(r) {
  if (r_.depth_ >= r_.env_.limits.max_call_depth)
    fail(ErrorKind::Limit, "maximum recursion depth exceeded (" + std::to_string(r_.env_.limits.max_call_depth) +
                               " nested macro calls or recursive loops)");
  ++r_.depth_;
}

void Renderer::render(const Template& t, const ScopePtr& scope, std::string& out) {
  root_ = scope;
  for (const auto& name : t.hidden) scope->set(name, Value::undefined(repr_str(name) + " is undefined"));
  exec(t.body, scope, out);
}

ScopePtr Renderer::frame(const ScopePtr& parent, const Hidden& hidden) {
  auto s = std::make_shared<Scope>(parent);
  for (const auto& name : hidden) s->set(name, Value::undefined(repr_str(name) + " is undefined"));
  return s;
}

Value Renderer::make_macro(const Macro& m, const ScopePtr& scope, bool is_caller) {
  auto macro = std::make_shared<MacroObject>(m, scope, is_caller);
  if (macros_.size() >= prune_at_) {  // forget the macros already gone, keeping this amortised O(1)
    std::erase_if(macros_, [](const std::weak_ptr<MacroObject>& w) { return w.expired(); });
    prune_at_ = std::max<size_t>(64, 2 * macros_.size());
  }
  macros_.push_back(macro);
  return Value::object(std::move(macro));
}

Renderer::~Renderer() {
  for (const auto& w : macros_)
    if (const auto macro = w.lock()) macro->release_closure();
}

std::string Renderer::run_macro_body(const Body& body, const ScopePtr& scope) {
  std::string buf;
  exec(body, scope, buf);
  return buf;
}

Renderer::Flow Renderer::exec(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const auto& s : body) {
    const Flow f = exec_stmt(*s, scope, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
  tick();
  try {
    switch (s.kind) {
      case StmtKind::Output:
        for (const auto& part : static_cast<const Output&>(s).parts) {
          if (!part.expr) out += part.text;
          else out += to_str(part.constant ? eval_constant(*part.expr, scope) : eval(*part.expr, scope));
          check_size(out.size());
        }
        return Flow::Normal;
      case StmtKind::If: {
        const auto& n = static_cast<const If&>(s);
        for (const auto& [test, body] : n.branches)
          if (truthy(eval(*test, scope))) return exec(body, scope, out);
        return exec(n.otherwise, scope, out);
      }
      case StmtKind::For: {
        const auto& f = static_cast<const For&>(s);
        exec_for(f, scope, out, eval(*f.iterable, scope), 0);
        return Flow::Normal;
      }
      case StmtKind::Assign: {
        const auto& a = static_cast<const Assign&>(s);
        check_namespaces(*a.target, scope);  // jinja2 checks `ns.attr` targets before evaluating the value
        assign(*a.target, eval(*a.value, scope), scope);
        return Flow::Normal;
      }
      case StmtKind::AssignBlock: {
        const auto& a = static_cast<const AssignBlock&>(s);
        std::string buf;
        exec(a.body, frame(scope, a.hidden), buf);
        Value text(std::move(buf));
        assign(*a.target, a.filter ? eval_filter(static_cast<const FilterOrTest&>(*a.filter), scope, &text) : text, scope);
        return Flow::Normal;
      }
      case StmtKind::Macro: {
        const auto& m = static_cast<const Macro&>(s);
        scope->set(m.name, make_macro(m, scope, false));
        return Flow::Normal;
      }
      case StmtKind::CallBlock: {
        const auto& c = static_cast<const CallBlock&>(s);
        const auto& call_expr = static_cast<const Call&>(*c.call);
        const Value callee = eval(*call_expr.callee, scope);
        CallArgs args = eval_args(call_expr.args, scope);
        args.kwargs.emplace_back("caller", make_macro(c.caller, scope, true));
        out += to_str(call(callee, args));
        check_size(out.size());
        return Flow::Normal;
      }
      case StmtKind::FilterBlock: {
        const auto& f = static_cast<const FilterBlock&>(s);
        std::string buf;
        exec(f.body, frame(scope, f.hidden), buf);
        Value text(std::move(buf));
        out += to_str(eval_filter(static_cast<const FilterOrTest&>(*f.filter), scope, &text));
        check_size(out.size());
        return Flow::Normal;
      }
      case StmtKind::With: {
        const auto& w = static_cast<const With&>(s);
        auto inner = frame(scope, w.hidden);
        for (size_t i = 0; i < w.targets.size(); ++i) assign(*w.targets[i], eval(*w.values[i], scope), inner);
        exec(w.body, inner, out);
        return Flow::Normal;
      }
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
      case StmtKind::Scoped: {
        const auto& sc = static_cast<const Scoped&>(s);
        exec(sc.body, frame(sc.isolated ? root_ : scope, sc.hidden), out);
        return Flow::Normal;
      }
      case StmtKind::Unsupported:
        fail(ErrorKind::Type, "no loader for this environment specified ({% " + static_cast<const Unsupported&>(s).what +
                                  " %} needs one)");
    }
  } catch (TemplateError& e) {
    if (e.line() == 0) throw TemplateError(e.kind(), e.message(), s.line);
    throw;
  }
  return Flow::Normal;
}

// As jinja2 folds a constant output expression at compile time: if that
// fails, the expression is left to run time, where slices raise.
Value Renderer::eval_constant(const Expr& e, const ScopePtr& scope) {
  folding_ = true;
  try {
    Value v = eval(e, scope);
    folding_ = false;
    return v;
  } catch (const TemplateError& err) {
    folding_ = false;
    if (err.kind() == ErrorKind::Limit) throw;
  }
  return eval(e, scope);
}

void Renderer::exec_for(const For& f, const ScopePtr& scope, std::string& out, const Value& iterable, int depth) {
  ValueList all = iterate(iterable);
  tick(all.size());
  auto items = std::make_shared<ValueList>();
  if (f.filter) {
    for (Value& item : all) {
      auto probe = std::make_shared<Scope>(scope);
      assign(*f.target, item, probe);
      if (truthy(eval(*f.filter, probe))) items->push_back(std::move(item));
    }
  } else {
    *items = std::move(all);
  }
  LoopObject::Recurse recurse;
  if (f.recursive) {
    recurse = [&f, scope](Renderer& r, const Value& it, int d) {
      CallGuard guard(r);
      std::string buf;
      r.exec_for(f, scope, buf, it, d);
      return buf;
    };
  }
  auto loop = std::make_shared<LoopObject>(items, depth, std::move(recurse));
  const Value loop_value = Value::object(loop);
  // jinja2 clears its "no iteration" flag at the end of the body, so the
  // else block also runs when every iteration ended in break or continue.
  bool completed_one = false;
  for (size_t i = 0; i < items->size(); ++i) {
    auto inner = frame(scope, f.hidden_body);
    assign(*f.target, (*items)[i], inner);
    inner->set("loop", loop_value);
    loop->advance(i);
    const Flow flow = exec(f.body, inner, out);
    if (flow == Flow::Normal) completed_one = true;
    if (flow == Flow::Break || loop->exhausted()) break;
  }
  if (!completed_one) exec(f.otherwise, frame(scope, f.hidden_else), out);
}

void Renderer::check_namespaces(const Expr& target, const ScopePtr& scope) {
  if (target.kind == ExprKind::Tuple) {
    for (const auto& t : static_cast<const Sequence&>(target).items) check_namespaces(*t, scope);
  } else if (target.kind == ExprKind::NSRef) {
    const Value* ns = scope->find(static_cast<const NSRef&>(target).name);
    if (!ns || !ns->object_as<Namespace>()) fail(ErrorKind::Runtime, "cannot assign attribute on non-namespace object");
  }
}

void Renderer::assign(const Expr& target, const Value& value, const ScopePtr& scope) {
  switch (target.kind) {
    case ExprKind::Name: scope->set(static_cast<const Name&>(target).name, value); return;
    case ExprKind::Tuple: {
      const auto& t = static_cast<const Sequence&>(target);
      const ValueList items = iterate(value);
      if (items.size() < t.items.size())
        fail(ErrorKind::Value, "not enough values to unpack (expected " + std::to_string(t.items.size()) + ", got " +
                                   std::to_string(items.size()) + ")");
      if (items.size() > t.items.size())
        fail(ErrorKind::Value, "too many values to unpack (expected " + std::to_string(t.items.size()) + ")");
      for (size_t i = 0; i < items.size(); ++i) assign(*t.items[i], items[i], scope);
      return;
    }
    case ExprKind::NSRef: {
      const auto& n = static_cast<const NSRef&>(target);
      const Value* ns = scope->find(n.name);
      Namespace* obj = ns ? ns->object_as<Namespace>() : nullptr;
      if (!obj) fail(ErrorKind::Runtime, "cannot assign attribute on non-namespace object");
      obj->set(n.attr, value);
      return;
    }
    default: fail(ErrorKind::Syntax, "can't assign to this expression");
  }
}

CallArgs Renderer::eval_args(const Arguments& a, const ScopePtr& scope) {
  CallArgs out;
  for (const auto& p : a.positional) out.args.push_back(eval(*p, scope));
  for (const auto& [k, v] : a.keywords) out.kwargs.emplace_back(k, eval(*v, scope));
  if (a.star_args) {
    for (Value& v : iterate(eval(*a.star_args, scope))) out.args.push_back(std::move(v));
  }
  if (a.star_kwargs) {
    const Value d = eval(*a.star_kwargs, scope);
    if (!d.is_dict()) fail(ErrorKind::Type, "argument after ** must be a mapping, not " + type_name(d));
    for (const auto& [k, v] : d.dict().entries) {
      if (!k.is_str()) fail(ErrorKind::Type, "keywords must be strings");
      out.kwargs.emplace_back(k.str(), v);
    }
  }
  return out;
}

Value Renderer::eval_filter(const FilterOrTest& f, const ScopePtr& scope, const Value* block_text) {
  if (constant_only_ && needs_context(f)) throw NotConstant{};
  Value subject;
  if (!f.subject) subject = *block_text;
  else if (f.subject->kind == ExprKind::Filter) subject = eval_filter(static_cast<const FilterOrTest&>(*f.subject), scope, block_text);
  else subject = eval(*f.subject, scope);
  CallArgs args = eval_args(f.args, scope);
  return filter(f.function, f.name, std::move(subject), args);
}

Value Renderer::filter(int id, const std::string& name, Value subject, CallArgs& args) {
  if (id < 0) fail(ErrorKind::Runtime, "No filter named '" + name + "' found.");
  return run_filter(id, *this, subject, args);
}

bool Renderer::test(int id, const std::string& name, const Value& subject, CallArgs& args) {
  if (id < 0) fail(ErrorKind::Runtime, "No test named '" + name + "' found.");
  return run_test(id, *this, subject, args);
}

Value Renderer::eval_compare(const Compare& c, const ScopePtr& scope) {
  Value left = eval(*c.first, scope);
  for (const auto& [op, expr] : c.rest) {
    Value right = eval(*expr, scope);
    if (!compare_op(op, left, right)) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Value Renderer::eval_as_const(const Expr& e) {
  folding_ = constant_only_ = true;
  try {
    Value v = eval(e, std::make_shared<Scope>());
    folding_ = constant_only_ = false;
    return v;
  } catch (...) {
    folding_ = constant_only_ = false;
    throw;
  }
}


Value Renderer::eval(const Expr& e, const ScopePtr& scope) {
  tick();
  if (constant_only_) {
    switch (e.kind) {
      case ExprKind::Name:
      case ExprKind::NSRef:
      case ExprKind::Call: throw NotConstant{};
      case ExprKind::Filter:
      case ExprKind::Test:
        if (needs_context(static_cast<const FilterOrTest&>(e))) throw NotConstant{};
        break;
      case ExprKind::CondExpr: {
        const auto& c = static_cast<const CondExpr&>(e);
        if (!c.otherwise && !truthy(eval(*c.test, scope))) throw NotConstant{};  // Undefined is left to run time
        break;
      }
      default: break;
    }
  }
  switch (e.kind) {
    case ExprKind::Const: return static_cast<const Const&>(e).value;
    case ExprKind::Name: {
      const std::string& n = static_cast<const Name&>(e).name;
      if (const Value* v = scope->find(n)) return *v;
      return Value::undefined(repr_str(n) + " is undefined");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      ValueList items;
      for (const auto& i : static_cast<const Sequence&>(e).items) items.push_back(eval(*i, scope));
      return e.kind == ExprKind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
    }
    case ExprKind::Dict: {
      Dict d;
      for (const auto& [k, v] : static_cast<const DictLiteral&>(e).items) {
        Value key = eval(*k, scope);
        d.set(key, eval(*v, scope));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::Getattr: {
      const auto& g = static_cast<const Getattr&>(e);
      return getattr(eval(*g.object, scope), g.attr);
    }
    case ExprKind::Getitem: {
      const auto& g = static_cast<const Getitem&>(e);
      const Value obj = eval(*g.object, scope);
      if (g.index->kind == ExprKind::Slice && !folding_) return slice(obj, static_cast<const Slice&>(*g.index), scope);
      return getitem(obj, eval(*g.index, scope));
    }
    case ExprKind::Slice: {
      const auto& s = static_cast<const Slice&>(e);
      auto bound = [&](const ExprPtr& p) { return p ? eval(*p, scope) : Value(nullptr); };
      return Value::object(std::make_shared<SliceObject>(bound(s.start), bound(s.stop), bound(s.step)));
    }
    case ExprKind::Call: {
      const auto& c = static_cast<const Call&>(e);
      const Value callee = eval(*c.callee, scope);
      CallArgs args = eval_args(c.args, scope);
      return call(callee, args);
    }
    case ExprKind::Filter: return eval_filter(static_cast<const FilterOrTest&>(e), scope, nullptr);
    case ExprKind::Test: {
      const auto& t = static_cast<const FilterOrTest&>(e);
      const Value subject = eval(*t.subject, scope);
      CallArgs args = eval_args(t.args, scope);
      return Value(test(t.function, t.name, subject, args));
    }
    case ExprKind::Unary: {
      const auto& u = static_cast<const Unary&>(e);
      const Value v = eval(*u.operand, scope);
      switch (u.op) {
        case UnaryOp::Not: return Value(!truthy(v));
        case UnaryOp::Neg: return unary_minus(v);
        case UnaryOp::Pos: return unary_plus(v);
      }
      return v;
    }
    case ExprKind::Binary: {
      const auto& b = static_cast<const Binary&>(e);
      Value left = eval(*b.left, scope);
      if (b.op == BinaryOp::And) return truthy(left) ? eval(*b.right, scope) : left;
      if (b.op == BinaryOp::Or) return truthy(left) ? left : eval(*b.right, scope);
      return binary_op(b.op, left, eval(*b.right, scope), env_.limits.max_output_bytes);
    }
    case ExprKind::Concat: {
      std::string out;
      for (const auto& i : static_cast<const Concat&>(e).items) {
        out += to_str(eval(*i, scope));
        check_size(out.size());
      }
      return Value(std::move(out));
    }
    case ExprKind::Compare: return eval_compare(static_cast<const Compare&>(e), scope);
    case ExprKind::CondExpr: {
      const auto& c = static_cast<const CondExpr&>(e);
      if (truthy(eval(*c.test, scope))) return eval(*c.then, scope);
      if (c.otherwise) return eval(*c.otherwise, scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::NSRef: fail(ErrorKind::Syntax, "namespace reference outside an assignment");
  }
  return Value();
}

// jinja2 compiles x[a:b:c] to a plain Python subscript (no sandbox getitem):
// objects that cannot be sliced raise TypeError rather than becoming Undefined.
Value Renderer::slice(const Value& obj, const Slice& s, const ScopePtr& scope) {
  auto bound = [&](const ExprPtr& p) { return p ? eval(*p, scope) : Value(nullptr); };
  const Value start = bound(s.start), stop = bound(s.stop), step = bound(s.step);
  if (obj.is_undefined()) obj.raise_undefined();
  if (obj.is_str() || obj.is_sequence()) return slice_sequence(obj, start, stop, step);
  if (const RangeObject* r = obj.object_as<RangeObject>()) return r->slice(start, stop, step);
  if (obj.is_object() && obj.object().has_items()) return slice_sequence(Value::list(obj.object().iterate()), start, stop, step);
  if (obj.is_dict()) fail(ErrorKind::Type, "unhashable type: 'slice'");
  fail(ErrorKind::Type, "'" + type_name(obj) + "' object is not subscriptable");
}

// ---- the sandbox's lookups ----

namespace {
bool is_dunder(const std::string& name) {
  return name.size() > 4 && name.compare(0, 2, "__") == 0 && name.compare(name.size() - 2, 2, "__") == 0;
}
Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute " + repr_str(name) + " of " + repr_str(type_name(obj)) + " object is unsafe.",
                          ErrorKind::Security);
}
}  // namespace

Value Renderer::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) obj.raise_undefined();
  if (is_dunder(name)) return unsafe(obj, name);
  if (obj.is_str() || obj.is_sequence() || obj.is_dict()) {
    if (auto m = find_method(obj, name)) return *m;
    if (obj.is_dict())
      if (const Value* v = obj.dict().find(Value(name))) return *v;
  } else if (obj.is_object()) {
    if (auto a = obj.object().attribute(name)) return *a;
  }
  return Value::undefined(repr_str(object_type_repr(obj)) + " has no attribute " + repr_str(name));
}

Value Renderer::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) obj.raise_undefined();
  if (const SliceObject* s = key.object_as<SliceObject>()) {
    if (obj.is_str() || obj.is_sequence() || obj.object_as<RangeObject>()) {
      try {
        if (const RangeObject* r = obj.object_as<RangeObject>()) return r->slice(s->start, s->stop, s->step);
        return slice_sequence(obj, s->start, s->stop, s->step);
      } catch (const TemplateError& e) {
        if (e.kind() != ErrorKind::Type) throw;
      }
    }
  } else if (obj.is_dict()) {
    try {
      if (const Value* v = obj.dict().find(key)) return *v;
    } catch (const TemplateError& e) {
      if (e.kind() != ErrorKind::Type) throw;  // unhashable key: Python's TypeError, then the fallbacks
    }
  } else if ((obj.is_str() || obj.is_sequence()) && key.is_integral()) {
    if (auto v = index_sequence(obj, key.integer())) return *v;
  } else if (const RangeObject* r = obj.object_as<RangeObject>(); r && key.is_integral()) {
    const int64_t n = *r->length();
    int64_t i = key.integer();
    if (i < 0) i += n;
    if (i >= 0 && i < n) return r->at(i);
  }
  if (key.is_str()) {
    const std::string& name = key.str();
    if (is_dunder(name)) return unsafe(obj, name);
    if (obj.is_str() || obj.is_sequence() || obj.is_dict()) {
      if (auto m = find_method(obj, name)) return *m;
    } else if (obj.is_object()) {
      if (auto a = obj.object().attribute(name)) return *a;
    }
    return Value::undefined(repr_str(object_type_repr(obj)) + " has no attribute " + repr_str(name));
  }
  return Value::undefined(repr_str(object_type_repr(obj)) + " has no element " + repr(key));
}

Value Renderer::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) callee.raise_undefined();
  if (callee.is_object() && callee.object().callable()) return callee.object().call(*this, args);
  fail(ErrorKind::Type, "'" + type_name(callee) + "' object is not callable");
}

}  // namespace qinfer::jinja
