// Variable scopes: a chain from the innermost frame (loop iteration, macro
// call) to the template's variables and the globals. Assignments go to the
// innermost frame, so `set` inside a loop body does not leak out of it, as
// in jinja2; namespaces are the sanctioned way out.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

class Scope;
using ScopePtr = std::shared_ptr<Scope>;

class Scope {
 public:
  explicit Scope(ScopePtr parent = nullptr) : parent_(std::move(parent)) {}
  const Value* find(std::string_view name) const {
    for (const Scope* s = this; s; s = s->parent_.get())
      for (const auto& [k, v] : s->vars_)
        if (k == name) return &v;
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& [k, old] : vars_)
      if (k == name) {
        old = std::move(v);
        return;
      }
    vars_.emplace_back(name, std::move(v));
  }

 private:
  ScopePtr parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};

}  // namespace qinfer::jinja
