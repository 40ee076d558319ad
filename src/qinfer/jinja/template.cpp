#include "qinfer/jinja/template.h"

#include "qinfer/jinja/ast.h"
#include "qinfer/jinja/builtins.h"
#include "qinfer/jinja/json.h"
#include "qinfer/jinja/lexer.h"
#include "qinfer/jinja/parser.h"

namespace qinfer::jinja {

const char* python_error_class(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Syntax: return "TemplateSyntaxError";
    case ErrorKind::Undefined: return "UndefinedError";
    case ErrorKind::Type: return "TypeError";
    case ErrorKind::Value: return "ValueError";
    case ErrorKind::Index: return "IndexError";
    case ErrorKind::Key: return "KeyError";
    case ErrorKind::Attribute: return "AttributeError";
    case ErrorKind::ZeroDivision: return "ZeroDivisionError";
    case ErrorKind::Overflow: return "OverflowError";
    case ErrorKind::Security: return "SecurityError";
    case ErrorKind::Raised: return "TemplateError";
    case ErrorKind::Runtime: return "TemplateRuntimeError";
    case ErrorKind::Assertion: return "AssertionError";
    case ErrorKind::Limit: return "RenderLimitError";
  }
  return "Error";
}

struct Template::Impl {
  ast::Template tree;
};

Template::Template(std::string_view source) : impl_(std::make_unique<Impl>()) {
  impl_->tree = parse(tokenize(source));
}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const std::vector<std::pair<std::string, Value>>& variables, const RenderOptions& options) const {
  RenderEnvironment env{options.limits, options.strftime_now};
  auto globals = std::make_shared<Scope>();
  add_globals(*globals);
  auto root = std::make_shared<Scope>(globals);
  for (const auto& [k, v] : variables) root->set(k, v);
  Renderer r(env);
  std::string out;
  r.render(impl_->tree, root, out);
  return out;
}

std::string Template::render(const nlohmann::ordered_json& variables, const RenderOptions& options) const {
  if (!variables.is_object()) throw TemplateError(ErrorKind::Type, "template variables must be a JSON object");
  std::vector<std::pair<std::string, Value>> vars;
  for (auto it = variables.begin(); it != variables.end(); ++it) vars.emplace_back(it.key(), from_json(it.value()));
  return render(vars, options);
}

}  // namespace qinfer::jinja
