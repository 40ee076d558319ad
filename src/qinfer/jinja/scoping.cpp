// Why this exists: jinja2 compiles a template to Python in which every name a
// frame (the template, a loop body, a macro, ...) assigns is a local of that
// frame, initialised when the frame is entered: from the outer frame's
// variable (alias), from the render context (resolve, when the frame reads the
// name before assigning it), or to "missing". The last case hides a render
// variable or global of the same name until the assignment runs:
//   {% for m in messages %}{{ tools }}{% endfor %}{% set tools = [] %}
// prints nothing for `tools` inside the loop even when the caller passed tools.
// The renderer looks names up dynamically through a chain of scopes, which
// agrees with jinja2 everywhere except for these hidden names; this pass finds
// them, following idtracking.py's visiting order, and the renderer binds them
// to Undefined when it enters the frame.
#include "qinfer/jinja/scoping.h"

#include <functional>
#include <map>
#include <set>

namespace qinfer::jinja {

namespace {

using namespace ast;

enum class Load { Param, Resolve, Alias, Missing };

struct Symbols {
  const Symbols* parent = nullptr;
  std::map<std::string, Load> refs;
  std::set<std::string> stores;

  bool find_ref(const std::string& n) const {
    for (const Symbols* s = this; s; s = s->parent)
      if (s->refs.count(n)) return true;
    return false;
  }
  void load(const std::string& n) {
    if (!find_ref(n)) refs[n] = Load::Resolve;
  }
  void store(const std::string& n) {
    stores.insert(n);
    if (!refs.count(n)) refs[n] = parent && parent->find_ref(n) ? Load::Alias : Load::Missing;
  }
  void param(const std::string& n) {
    stores.insert(n);
    refs[n] = Load::Param;
  }
  void branch_update(const std::vector<Symbols>& branches) {
    std::set<std::string> new_stores;
    for (const auto& b : branches)
      for (const auto& n : b.stores)
        if (!stores.count(n)) new_stores.insert(n);
    for (const auto& b : branches) {
      for (const auto& [n, l] : b.refs) refs[n] = l;
      stores.insert(b.stores.begin(), b.stores.end());
    }
    for (const auto& n : new_stores) refs[n] = parent && parent->find_ref(n) ? Load::Alias : Load::Resolve;
  }
  Hidden hidden() const {
    Hidden out;
    for (const auto& [n, l] : refs)
      if (l == Load::Missing) out.push_back(n);
    return out;
  }
};

class Analyzer {
 public:
  Hidden frame_template(Body& body) {
    Symbols sym;
    std::vector<Stmt*> children;
    visit_body(body, sym, children);
    analyze_children(children, sym);
    return sym.hidden();
  }

 private:
  // A frame's own symbols are complete before the frames inside it are
  // analysed (jinja2 analyses a frame when the compiler reaches it), so the
  // frames a statement opens are collected first and analysed afterwards.
  void analyze_children(const std::vector<Stmt*>& children, const Symbols& sym) {
    for (Stmt* s : children) {
      switch (s->kind) {
        case StmtKind::For: analyze_for(static_cast<For&>(*s), sym); break;
        case StmtKind::AssignBlock: {
          auto& a = static_cast<AssignBlock&>(*s);
          a.hidden = analyze_frame(sym, {}, [&](Symbols& in, std::vector<Stmt*>& ch) { visit_body(a.body, in, ch); });
          break;
        }
        case StmtKind::Macro: analyze_macro(static_cast<Macro&>(*s), sym); break;
        case StmtKind::CallBlock: analyze_macro(static_cast<CallBlock&>(*s).caller, sym); break;
        case StmtKind::FilterBlock: {
          auto& f = static_cast<FilterBlock&>(*s);
          f.hidden = analyze_frame(sym, {}, [&](Symbols& in, std::vector<Stmt*>& ch) {
            visit_body(f.body, in, ch);
            loads_in(f.filter, in);
          });
          break;
        }
        case StmtKind::With: {
          auto& w = static_cast<With&>(*s);
          w.hidden = analyze_frame(sym, {}, [&](Symbols& in, std::vector<Stmt*>& ch) {
            for (auto& t : w.targets) store_target(t.get(), in, true);
            visit_body(w.body, in, ch);
          });
          break;
        }
        case StmtKind::Scoped: {
          auto& sc = static_cast<Scoped&>(*s);
          Symbols none;
          sc.hidden = analyze_frame(sc.isolated ? none : sym, {}, [&](Symbols& in, std::vector<Stmt*>& ch) {
            if (sc.isolated) in.parent = nullptr;
            visit_body(sc.body, in, ch);
          });
          break;
        }
        default: break;
      }
    }
  }

  template <class Fill>
  Hidden analyze_frame(const Symbols& parent, const std::vector<std::string>& params, Fill fill) {
    Symbols in{&parent, {}, {}};
    for (const auto& p : params) in.param(p);
    std::vector<Stmt*> children;
    fill(in, children);
    analyze_children(children, in);
    return in.hidden();
  }

  void loads_in(ExprPtr& e, Symbols& sym) {
    if (!e) return;
    if (e->kind == ExprKind::Name) sym.load(static_cast<const Name&>(*e).name);
    if (e->kind == ExprKind::NSRef) sym.load(static_cast<const NSRef&>(*e).name);
    for_each_child(*e, [&](ExprPtr& c) { loads_in(c, sym); });
  }
  void store_target(const Expr* e, Symbols& sym, bool as_param) {
    if (e->kind == ExprKind::Name) {
      const std::string& n = static_cast<const Name*>(e)->name;
      if (as_param) sym.param(n);
      else sym.store(n);
    } else if (e->kind == ExprKind::Tuple) {
      for (const auto& i : static_cast<const Sequence*>(e)->items) store_target(i.get(), sym, as_param);
    } else if (e->kind == ExprKind::NSRef) {
      sym.load(static_cast<const NSRef*>(e)->name);
    }
  }

  void visit_body(Body& body, Symbols& sym, std::vector<Stmt*>& children) {
    for (auto& s : body) visit_stmt(*s, sym, children);
  }

  // FrameSymbolVisitor: what a statement contributes to the frame it sits in;
  // the frames it opens go to `children`.
  void visit_stmt(Stmt& s, Symbols& sym, std::vector<Stmt*>& children) {
    switch (s.kind) {
      case StmtKind::Output:
        for (auto& p : static_cast<Output&>(s).parts) loads_in(p.expr, sym);
        break;
      case StmtKind::If: visit_if(static_cast<If&>(s), sym, children); break;
      case StmtKind::For:
        loads_in(static_cast<For&>(s).iterable, sym);
        children.push_back(&s);
        break;
      case StmtKind::Assign: {
        auto& a = static_cast<Assign&>(s);
        loads_in(a.value, sym);
        store_target(a.target.get(), sym, false);
        break;
      }
      case StmtKind::AssignBlock:
        store_target(static_cast<AssignBlock&>(s).target.get(), sym, false);
        children.push_back(&s);
        break;
      case StmtKind::Macro:
        sym.store(static_cast<Macro&>(s).name);
        children.push_back(&s);
        break;
      case StmtKind::CallBlock:
        loads_in(static_cast<CallBlock&>(s).call, sym);
        children.push_back(&s);
        break;
      case StmtKind::FilterBlock:
        loads_in(static_cast<FilterBlock&>(s).filter, sym);
        children.push_back(&s);
        break;
      case StmtKind::With:
        for (auto& v : static_cast<With&>(s).values) loads_in(v, sym);
        children.push_back(&s);
        break;
      case StmtKind::Scoped: children.push_back(&s); break;
      default: break;
    }
  }

  // visit_If: the test, then each branch on a copy of the frame's symbols,
  // merged back; elif chains nest as jinja2's parser nests them.
  void visit_if(If& n, Symbols& sym, std::vector<Stmt*>& children) {
    loads_in(n.branches[0].first, sym);
    std::vector<Symbols> branches(3, sym);
    visit_body(n.branches[0].second, branches[0], children);
    for (size_t i = 1; i < n.branches.size(); ++i) {
      Symbols& e = branches[1];
      loads_in(n.branches[i].first, e);
      std::vector<Symbols> inner(3, e);
      visit_body(n.branches[i].second, inner[0], children);
      e.branch_update(inner);
    }
    visit_body(n.otherwise, branches[2], children);
    sym.branch_update(branches);
  }

  void analyze_for(For& f, const Symbols& outer) {
    check_no_loop_store(f);
    f.hidden_body = analyze_frame(outer, {"loop"}, [&](Symbols& in, std::vector<Stmt*>& ch) {
      store_target(f.target.get(), in, true);
      visit_body(f.body, in, ch);
    });
    f.hidden_else = analyze_frame(outer, {}, [&](Symbols& in, std::vector<Stmt*>& ch) { visit_body(f.otherwise, in, ch); });
  }

  void analyze_macro(Macro& m, const Symbols& outer) {
    m.hidden = analyze_frame(outer, m.params, [&](Symbols& in, std::vector<Stmt*>& ch) {
      for (auto& d : m.defaults) loads_in(d, in);
      visit_body(m.body, in, ch);
    });
  }

  // jinja2 refuses any assignment to `loop` inside a for statement.
  static void check_no_loop_store(const For& f) {
    std::function<void(const Expr*)> target = [&](const Expr* e) {
      if (e->kind == ExprKind::Name && static_cast<const Name*>(e)->name == "loop")
        throw TemplateError(ErrorKind::Syntax, "Can't assign to special loop variable in for-loop target", e->line);
      if (e->kind == ExprKind::Tuple)
        for (const auto& i : static_cast<const Sequence*>(e)->items) target(i.get());
    };
    std::function<void(const Body&)> body = [&](const Body& b) {
      for (const auto& s : b) {
        switch (s->kind) {
          case StmtKind::Assign: target(static_cast<const Assign&>(*s).target.get()); break;
          case StmtKind::AssignBlock: target(static_cast<const AssignBlock&>(*s).target.get()); break;
          case StmtKind::For:
            target(static_cast<const For&>(*s).target.get());
            body(static_cast<const For&>(*s).body);
            body(static_cast<const For&>(*s).otherwise);
            break;
          case StmtKind::If:
            for (const auto& [t, b2] : static_cast<const If&>(*s).branches) body(b2);
            body(static_cast<const If&>(*s).otherwise);
            break;
          case StmtKind::With:
            for (const auto& t : static_cast<const With&>(*s).targets) target(t.get());
            body(static_cast<const With&>(*s).body);
            break;
          case StmtKind::Macro: body(static_cast<const Macro&>(*s).body); break;
          case StmtKind::CallBlock: body(static_cast<const CallBlock&>(*s).caller.body); break;
          case StmtKind::FilterBlock: body(static_cast<const FilterBlock&>(*s).body); break;
          case StmtKind::Scoped: body(static_cast<const Scoped&>(*s).body); break;
          default: break;
        }
      }
    };
    target(f.target.get());
    body(f.body);
    body(f.otherwise);
  }
};

}  // namespace

void analyze_scopes(Template& t) { t.hidden = Analyzer().frame_template(t.body); }

}  // namespace qinfer::jinja
