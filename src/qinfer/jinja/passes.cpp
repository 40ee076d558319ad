#include "qinfer/jinja/passes.h"

#include "qinfer/jinja/builtins.h"

namespace qinfer::jinja {

namespace {

using namespace ast;

// ---- filter and test names ----

void resolve_expr(ExprPtr& e, bool soft) {
  if (e->kind == ExprKind::Filter || e->kind == ExprKind::Test) {
    auto& f = static_cast<FilterOrTest&>(*e);
    const bool filter = e->kind == ExprKind::Filter;
    f.function = filter ? find_filter(f.name) : find_test(f.name);
    if (f.function < 0 && !soft)
      throw TemplateError(ErrorKind::Syntax, std::string("No ") + (filter ? "filter" : "test") + " named '" + f.name + "'.",
                          e->line);
  }
  // An inline if-expression is a "soft" frame in jinja2, as the branches of {% if %} are.
  const bool child_soft = soft || e->kind == ExprKind::CondExpr;
  for_each_child(*e, [&](ExprPtr& c) { resolve_expr(c, child_soft); });
}

void resolve_body(Body& body, bool soft) {
  for (auto& s : body) {
    switch (s->kind) {
      // Expressions jinja2 evaluates in a new (never soft) frame.
      case StmtKind::For: {
        auto& f = static_cast<For&>(*s);
        resolve_expr(f.iterable, soft);
        if (f.filter) resolve_expr(f.filter, false);
        break;
      }
      case StmtKind::Macro:
      case StmtKind::AssignBlock:
      case StmtKind::FilterBlock: for_each_expr(*s, [&](ExprPtr& e) { resolve_expr(e, false); }); break;
      case StmtKind::CallBlock: {
        auto& c = static_cast<CallBlock&>(*s);
        resolve_expr(c.call, soft);
        for (auto& d : c.caller.defaults) resolve_expr(d, false);
        break;
      }
      default: for_each_expr(*s, [&](ExprPtr& e) { resolve_expr(e, soft || s->kind == StmtKind::If); });
    }
    const bool body_soft = s->kind == StmtKind::If;
    for_each_body(*s, [&](Body& b) { resolve_body(b, body_soft); });
  }
}

// ---- constant output expressions ----

// Whether jinja2 can evaluate e while compiling (nodes' as_const): no names,
// calls, or filters that need the render context.
bool is_constant(Expr& e) {
  switch (e.kind) {
    case ExprKind::Const: return true;
    case ExprKind::Name:
    case ExprKind::NSRef:
    case ExprKind::Call: return false;
    case ExprKind::Filter:
    case ExprKind::Test: {
      auto& f = static_cast<FilterOrTest&>(e);
      static const char* const kContextFilters[] = {"map", "select", "reject", "selectattr", "rejectattr", "random"};
      if (!f.subject || f.args.star_args || f.args.star_kwargs) return false;
      if (e.kind == ExprKind::Filter)
        for (const char* n : kContextFilters)
          if (f.name == n) return false;
      break;
    }
    default: break;
  }
  bool constant = true;
  for_each_child(e, [&](ExprPtr& c) { constant = constant && is_constant(*c); });
  return constant;
}

void mark_outputs(Body& body) {
  for (auto& s : body) {
    if (s->kind == StmtKind::Output)
      for (auto& p : static_cast<Output&>(*s).parts) p.constant = p.expr && is_constant(*p.expr);
    for_each_body(*s, mark_outputs);
  }
}

// ---- what a macro body reads (jinja2's find_undeclared) ----

struct NameUse {
  bool varargs = false, kwargs = false, caller = false;
};

void names_in(ExprPtr& e, NameUse& u) {
  if (e->kind == ExprKind::Name) {
    const std::string& n = static_cast<const Name&>(*e).name;
    u.varargs |= n == "varargs";
    u.kwargs |= n == "kwargs";
    u.caller |= n == "caller";
  }
  for_each_child(*e, [&](ExprPtr& c) { names_in(c, u); });
}

void names_in(Body& body, NameUse& u) {
  for (auto& s : body) {
    for_each_expr(*s, [&](ExprPtr& e) { names_in(e, u); });
    if (s->kind != StmtKind::Scoped)  // jinja2 does not look into blocks
      for_each_body(*s, [&](Body& b) { names_in(b, u); });
  }
}

void mark_macro(Macro& m) {
  NameUse u;
  names_in(m.body, u);
  m.uses_varargs = u.varargs;
  m.uses_kwargs = u.kwargs;
  m.uses_caller = u.caller;
}

void mark_macros(Body& body) {
  for (auto& s : body) {
    if (s->kind == StmtKind::Macro) mark_macro(static_cast<Macro&>(*s));
    if (s->kind == StmtKind::CallBlock) mark_macro(static_cast<CallBlock&>(*s).caller);
    for_each_body(*s, mark_macros);
  }
}

}  // namespace

void resolve_names(Template& t) { resolve_body(t.body, false); }
void mark_constant_outputs(Template& t) { mark_outputs(t.body); }
void mark_macro_arguments(Template& t) { mark_macros(t.body); }

}  // namespace qinfer::jinja
