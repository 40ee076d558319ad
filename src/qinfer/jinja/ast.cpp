#include "qinfer/jinja/ast.h"

namespace qinfer::jinja::ast {

namespace {
void for_each_arg(Arguments& a, const std::function<void(ExprPtr&)>& f) {
  for (auto& p : a.positional) f(p);
  for (auto& [k, v] : a.keywords) f(v);
  if (a.star_args) f(a.star_args);
  if (a.star_kwargs) f(a.star_kwargs);
}
void maybe(ExprPtr& e, const std::function<void(ExprPtr&)>& f) {
  if (e) f(e);
}
}  // namespace

void for_each_child(Expr& e, const std::function<void(ExprPtr&)>& f) {
  switch (e.kind) {
    case ExprKind::List:
    case ExprKind::Tuple:
      for (auto& i : static_cast<Sequence&>(e).items) f(i);
      break;
    case ExprKind::Dict:
      for (auto& [k, v] : static_cast<DictLiteral&>(e).items) {
        f(k);
        f(v);
      }
      break;
    case ExprKind::Getattr: f(static_cast<Getattr&>(e).object); break;
    case ExprKind::Getitem:
      f(static_cast<Getitem&>(e).object);
      f(static_cast<Getitem&>(e).index);
      break;
    case ExprKind::Slice: {
      auto& s = static_cast<Slice&>(e);
      maybe(s.start, f);
      maybe(s.stop, f);
      maybe(s.step, f);
      break;
    }
    case ExprKind::Call:
      f(static_cast<Call&>(e).callee);
      for_each_arg(static_cast<Call&>(e).args, f);
      break;
    case ExprKind::Filter:
    case ExprKind::Test:
      maybe(static_cast<FilterOrTest&>(e).subject, f);
      for_each_arg(static_cast<FilterOrTest&>(e).args, f);
      break;
    case ExprKind::Unary: f(static_cast<Unary&>(e).operand); break;
    case ExprKind::Binary:
      f(static_cast<Binary&>(e).left);
      f(static_cast<Binary&>(e).right);
      break;
    case ExprKind::Concat:
      for (auto& i : static_cast<Concat&>(e).items) f(i);
      break;
    case ExprKind::Compare:
      f(static_cast<Compare&>(e).first);
      for (auto& [op, x] : static_cast<Compare&>(e).rest) f(x);
      break;
    case ExprKind::CondExpr: {
      auto& c = static_cast<CondExpr&>(e);
      f(c.test);
      f(c.then);
      maybe(c.otherwise, f);
      break;
    }
    default: break;
  }
}

void for_each_expr(Stmt& s, const std::function<void(ExprPtr&)>& f) {
  switch (s.kind) {
    case StmtKind::Output:
      for (auto& p : static_cast<Output&>(s).parts) maybe(p.expr, f);
      break;
    case StmtKind::If:
      for (auto& [t, b] : static_cast<If&>(s).branches) f(t);
      break;
    case StmtKind::For:
      f(static_cast<For&>(s).iterable);
      maybe(static_cast<For&>(s).filter, f);
      break;
    case StmtKind::Assign: f(static_cast<Assign&>(s).value); break;
    case StmtKind::AssignBlock: maybe(static_cast<AssignBlock&>(s).filter, f); break;
    case StmtKind::Macro:
      for (auto& d : static_cast<Macro&>(s).defaults) f(d);
      break;
    case StmtKind::CallBlock:
      f(static_cast<CallBlock&>(s).call);
      for (auto& d : static_cast<CallBlock&>(s).caller.defaults) f(d);
      break;
    case StmtKind::FilterBlock: f(static_cast<FilterBlock&>(s).filter); break;
    case StmtKind::With:
      for (auto& v : static_cast<With&>(s).values) f(v);
      break;
    default: break;
  }
}

void for_each_body(Stmt& s, const std::function<void(Body&)>& f) {
  switch (s.kind) {
    case StmtKind::If:
      for (auto& [t, b] : static_cast<If&>(s).branches) f(b);
      f(static_cast<If&>(s).otherwise);
      break;
    case StmtKind::For:
      f(static_cast<For&>(s).body);
      f(static_cast<For&>(s).otherwise);
      break;
    case StmtKind::AssignBlock: f(static_cast<AssignBlock&>(s).body); break;
    case StmtKind::Macro: f(static_cast<Macro&>(s).body); break;
    case StmtKind::CallBlock: f(static_cast<CallBlock&>(s).caller.body); break;
    case StmtKind::FilterBlock: f(static_cast<FilterBlock&>(s).body); break;
    case StmtKind::With: f(static_cast<With&>(s).body); break;
    case StmtKind::Scoped: f(static_cast<Scoped&>(s).body); break;
    default: break;
  }
}

}  // namespace qinfer::jinja::ast
