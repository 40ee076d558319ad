// Runs a parsed template: statements write to an output string, expressions
// evaluate to values, and every attribute lookup, item lookup and call goes
// through the immutable sandbox's rules. Counting steps, call depth and output
// size keeps hostile templates from hanging or exhausting memory.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qinfer/jinja/ast.h"
#include "qinfer/jinja/scope.h"
#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

class MacroObject;

struct RenderLimits {
  uint64_t max_steps = 50'000'000;           // expression and statement evaluations
  size_t max_output_bytes = size_t(256) << 20;  // also caps any one string the template builds
  int max_call_depth = 200;                  // macro calls and recursive loops
};

struct RenderEnvironment {
  RenderLimits limits;
  // strftime_now(format): the current local time, formatted (or a fixed time in tests).
  std::function<std::string(const std::string&)> strftime_now;
};

class Renderer {
 public:
  explicit Renderer(const RenderEnvironment& env) : env_(env) {}
  ~Renderer();  // frees the scopes that macros keep alive (see macros_)
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;
  const RenderEnvironment& env() const { return env_; }

  void render(const ast::Template& t, const ScopePtr& scope, std::string& out);
  Value eval(const ast::Expr& e, const ScopePtr& scope);

  // The sandbox's lookups and calls.
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  Value call(const Value& callee, CallArgs& args);
  Value filter(int id, const std::string& name, Value subject, CallArgs& args);
  bool test(int id, const std::string& name, const Value& subject, CallArgs& args);

  // Evaluates e as jinja2's compiler does for a constant expression (nodes'
  // as_const); throws NotConstant when e is not one.
  struct NotConstant {};
  Value eval_as_const(const ast::Expr& e);

  // Accounting, for built-ins that loop or build large strings.
  void tick(uint64_t n = 1);
  void check_size(size_t bytes) const;
  struct CallGuard {
    explicit CallGuard(Renderer& r);
    ~CallGuard() { --r_.depth_; }
    Renderer& r_;
  };

  // Runs a macro or {% call %} body in its own scope; returns its output.
  std::string run_macro_body(const ast::Body& body, const ScopePtr& scope);
  // Opens a frame: a child scope with the frame's hidden names bound to Undefined.
  static ScopePtr frame(const ScopePtr& parent, const ast::Hidden& hidden);
  // A macro (or a call block's caller) closing over scope.
  Value make_macro(const ast::Macro& m, const ScopePtr& scope, bool is_caller);

 private:
  enum class Flow { Normal, Break, Continue };
  Flow exec(const ast::Body& body, const ScopePtr& scope, std::string& out);
  Flow exec_stmt(const ast::Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_for(const ast::For& f, const ScopePtr& scope, std::string& out, const Value& iterable, int depth);
  void assign(const ast::Expr& target, const Value& value, const ScopePtr& scope);
  CallArgs eval_args(const ast::Arguments& a, const ScopePtr& scope);
  Value eval_filter(const ast::FilterOrTest& f, const ScopePtr& scope, const Value* block_text);
  Value eval_compare(const ast::Compare& c, const ScopePtr& scope);
  Value slice(const Value& obj, const ast::Slice& s, const ScopePtr& scope);
  void check_namespaces(const ast::Expr& target, const ScopePtr& scope);
  Value eval_constant(const ast::Expr& e, const ScopePtr& scope);

  const RenderEnvironment& env_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  bool folding_ = false;        // as jinja2 evaluates constants while compiling: slices through getitem
  bool constant_only_ = false;  // names, calls and context filters are not constants (NotConstant)
  ScopePtr root_;
  // Every macro made: a macro holds its defining scope, which usually holds
  // the macro (a shared_ptr cycle); the destructor releases their closures.
  std::vector<std::weak_ptr<MacroObject>> macros_;
  size_t prune_at_ = 64;
};

}  // namespace qinfer::jinja
