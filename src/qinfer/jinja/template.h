// A parsed Jinja template with the semantics of Python's jinja2 3.1 as
// Hugging Face transformers configures it for chat templates:
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
// extensions=[loopcontrols]), the default Undefined, and the globals
// raise_exception / strftime_now and json.dumps as `tojson`.
//
//   jinja::Template t(source);               // TemplateError(Syntax) on a bad template
//   std::string s = t.render(variables);     // TemplateError on a render error
//
// A Template is immutable once parsed; render() may run on several threads at once.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qinfer/jinja/error.h"
#include "qinfer/jinja/renderer.h"
#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

namespace ast {
struct Stmt;
}

struct RenderOptions {
  RenderLimits limits;
  // strftime_now(format) for the template; empty: the current local time.
  std::function<std::string(const std::string&)> strftime_now;
};

class Template {
 public:
  explicit Template(std::string_view source);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // variables: a JSON object whose members become the template's variables.
  std::string render(const nlohmann::ordered_json& variables, const RenderOptions& options = {}) const;
  std::string render(const std::vector<std::pair<std::string, Value>>& variables, const RenderOptions& options = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qinfer::jinja
