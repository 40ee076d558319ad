// The syntax tree of a template: expressions and statements as jinja2's
// parser builds them (nodes.py), without its compile-to-Python step.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qinfer/jinja/value.h"

namespace qinfer::jinja::ast {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  Const, Name, NSRef, List, Tuple, Dict, Getattr, Getitem, Slice, Call, Filter, Test, Unary, Binary, Concat,
  Compare, CondExpr
};

struct Expr {
  Expr(ExprKind k, int l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  ExprKind kind;
  int line;
};

struct Const : Expr {
  Const(Value v, int l) : Expr(ExprKind::Const, l), value(std::move(v)) {}
  Value value;  // a literal, or a constant folded when parsing (literal-valued: lists, dicts, ...)
};

struct Name : Expr {
  Name(std::string n, int l) : Expr(ExprKind::Name, l), name(std::move(n)) {}
  std::string name;
};

// `ns.attr` as an assignment target.
struct NSRef : Expr {
  NSRef(std::string n, std::string a, int l) : Expr(ExprKind::NSRef, l), name(std::move(n)), attr(std::move(a)) {}
  std::string name, attr;
};

// List or Tuple literal (also tuple assignment targets).
struct Sequence : Expr {
  Sequence(ExprKind k, int l) : Expr(k, l) {}
  std::vector<ExprPtr> items;
};

struct DictLiteral : Expr {
  explicit DictLiteral(int l) : Expr(ExprKind::Dict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct Getattr : Expr {
  Getattr(ExprPtr o, std::string a, int l) : Expr(ExprKind::Getattr, l), object(std::move(o)), attr(std::move(a)) {}
  ExprPtr object;
  std::string attr;
};

struct Getitem : Expr {
  Getitem(ExprPtr o, ExprPtr i, int l) : Expr(ExprKind::Getitem, l), object(std::move(o)), index(std::move(i)) {}
  ExprPtr object, index;
};

struct Slice : Expr {
  explicit Slice(int l) : Expr(ExprKind::Slice, l) {}
  ExprPtr start, stop, step;  // each may be null
};

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  ExprPtr star_args, star_kwargs;  // *args, **kwargs
};

struct Call : Expr {
  Call(ExprPtr c, int l) : Expr(ExprKind::Call, l), callee(std::move(c)) {}
  ExprPtr callee;
  Arguments args;
};

// `subject|name(args)` or `subject is name(args)`. A filter's subject is null
// inside {% filter %} / {% set x | f %} blocks, where it is the block's text.
struct FilterOrTest : Expr {
  FilterOrTest(ExprKind k, ExprPtr s, std::string n, int l) : Expr(k, l), subject(std::move(s)), name(std::move(n)) {}
  ExprPtr subject;
  std::string name;
  Arguments args;
  int function = -1;  // index in the filter/test registry; -1: unknown (raises when run)
};

enum class UnaryOp { Not, Neg, Pos };
struct Unary : Expr {
  Unary(UnaryOp o, ExprPtr e, int l) : Expr(ExprKind::Unary, l), op(o), operand(std::move(e)) {}
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, And, Or };
struct Binary : Expr {
  Binary(BinaryOp o, ExprPtr a, ExprPtr b, int l) : Expr(ExprKind::Binary, l), op(o), left(std::move(a)), right(std::move(b)) {}
  BinaryOp op;
  ExprPtr left, right;
};

struct Concat : Expr {
  explicit Concat(int l) : Expr(ExprKind::Concat, l) {}
  std::vector<ExprPtr> items;
};

enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
struct Compare : Expr {
  Compare(ExprPtr f, int l) : Expr(ExprKind::Compare, l), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

struct CondExpr : Expr {
  CondExpr(ExprPtr t, ExprPtr a, ExprPtr b, int l)
      : Expr(ExprKind::CondExpr, l), test(std::move(t)), then(std::move(a)), otherwise(std::move(b)) {}
  ExprPtr test, then, otherwise;  // otherwise may be null
};

// ---- statements ----

enum class StmtKind { Output, If, For, Assign, AssignBlock, Macro, CallBlock, FilterBlock, With, Break, Continue, Scoped, Unsupported };

struct Stmt {
  Stmt(StmtKind k, int l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  int line;
};

// Template text and {{ expressions }}, in order; a part with a null expr is text.
struct Output : Stmt {
  explicit Output(int l) : Stmt(StmtKind::Output, l) {}
  struct Part {
    std::string text;
    ExprPtr expr;
    // Made of constants only: jinja2 evaluates such an expression when it
    // compiles the template, where slices go through the sandbox's getitem
    // (Undefined on failure) rather than a plain subscript (TypeError).
    bool constant = false;
  };
  std::vector<Part> parts;
};

struct If : Stmt {
  explicit If(int l) : Stmt(StmtKind::If, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body otherwise;
};

// Names a frame starts with as undefined although an outer scope or the
// render variables define them: jinja2 binds every name a frame assigns to
// that frame when it compiles the template, and a name first assigned (not
// read) in a frame, with no enclosing frame that knows it, starts out
// missing. See scoping.cpp.
using Hidden = std::vector<std::string>;

struct For : Stmt {
  explicit For(int l) : Stmt(StmtKind::For, l) {}
  ExprPtr target, iterable, filter;  // filter: `for x in xs if cond`, may be null
  Body body, otherwise;
  bool recursive = false;
  Hidden hidden_body, hidden_else;
};

struct Assign : Stmt {
  explicit Assign(int l) : Stmt(StmtKind::Assign, l) {}
  ExprPtr target, value;
};

struct AssignBlock : Stmt {
  explicit AssignBlock(int l) : Stmt(StmtKind::AssignBlock, l) {}
  ExprPtr target, filter;  // filter may be null
  Body body;
  Hidden hidden;
};

// A macro, or the anonymous `caller` of a {% call %} block.
struct Macro : Stmt {
  explicit Macro(int l) : Stmt(StmtKind::Macro, l) {}
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
  Hidden hidden;
};

struct CallBlock : Stmt {
  explicit CallBlock(int l) : Stmt(StmtKind::CallBlock, l), caller(l) {}
  ExprPtr call;  // a Call expression
  Macro caller;
};

struct FilterBlock : Stmt {
  explicit FilterBlock(int l) : Stmt(StmtKind::FilterBlock, l) {}
  ExprPtr filter;
  Body body;
  Hidden hidden;
};

struct With : Stmt {
  explicit With(int l) : Stmt(StmtKind::With, l) {}
  std::vector<ExprPtr> targets, values;
  Body body;
  Hidden hidden;
};

struct LoopControl : Stmt {
  LoopControl(StmtKind k, int l) : Stmt(k, l) {}
};

// {% block %}, {% autoescape %} and Hugging Face's {% generation %}: a body
// rendered in place, in a scope of its own.
struct Scoped : Stmt {
  explicit Scoped(int l, bool block = false) : Stmt(StmtKind::Scoped, l), isolated(block) {}
  Body body;
  bool isolated;  // {% block %}: sees the template's variables, not the enclosing loops'
  Hidden hidden;
};

// {% include %}, {% import %}, {% extends %}...: need a template loader, which
// Hugging Face's environment does not have; they fail when run.
struct Unsupported : Stmt {
  Unsupported(std::string w, int l) : Stmt(StmtKind::Unsupported, l), what(std::move(w)) {}
  std::string what;
};

struct Template {
  Body body;
  Hidden hidden;
};

}  // namespace qinfer::jinja::ast

namespace qinfer::jinja::ast {

// Walking the tree: each calls f on the direct children only.
void for_each_child(Expr& e, const std::function<void(ExprPtr&)>& f);
// The expressions a statement holds itself (not those in its bodies).
void for_each_expr(Stmt& s, const std::function<void(ExprPtr&)>& f);
// The statement lists a statement holds (if/elif/else, loop body and else, macro body, ...).
void for_each_body(Stmt& s, const std::function<void(Body&)>& f);

}  // namespace qinfer::jinja::ast
