#include "qinfer/jinja/fold.h"

#include "qinfer/jinja/objects.h"
#include "qinfer/jinja/renderer.h"

namespace qinfer::jinja {

namespace {

using namespace ast;

// compiler.has_safe_repr: values jinja2 can write back into the template as literals.
bool has_safe_repr(const Value& v) {
  switch (v.kind()) {
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::Str: return true;
    case Kind::List:
    case Kind::Tuple:
      for (const Value& x : v.items())
        if (!has_safe_repr(x)) return false;
      return true;
    case Kind::Dict:
      for (const auto& [k, x] : v.dict().entries)
        if (!has_safe_repr(k) || !has_safe_repr(x)) return false;
      return true;
    case Kind::Object: return v.object_as<RangeObject>() != nullptr;
    default: return false;
  }
}

void fold_expr(ExprPtr& e, Renderer& r);

void fold_body(Body& body, Renderer& r) {
  for (auto& s : body) {
    for_each_expr(*s, [&](ExprPtr& e) { fold_expr(e, r); });
    for_each_body(*s, [&](Body& b) { fold_body(b, r); });
  }
}

// Folds the children, then the node itself.
void fold_expr(ExprPtr& e, Renderer& r) {
  for_each_child(*e, [&](ExprPtr& c) { fold_expr(c, r); });
  switch (e->kind) {
    case ExprKind::Const:
    case ExprKind::Name:
    case ExprKind::NSRef:
    case ExprKind::Slice:  // a slice object has no literal form
    case ExprKind::Call: return;
    default: break;
  }
  try {
    Value v = r.eval_as_const(*e);
    if (has_safe_repr(v)) e = std::make_unique<Const>(std::move(v), e->line);
  } catch (const Renderer::NotConstant&) {
  } catch (const TemplateError&) {
    // jinja2 leaves it to run time, where it raises again.
  }
}

}  // namespace

void fold_constants(Template& t) {
  // Compile-time evaluation gets small limits; what exceeds them is left to run time.
  const RenderEnvironment env{RenderLimits{100000, size_t(1) << 20, 32}, {}};
  Renderer r(env);
  fold_body(t.body, r);
}

}  // namespace qinfer::jinja
