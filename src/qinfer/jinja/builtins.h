// The registries of built-ins: jinja2's filters and tests (plus Hugging
// Face's tojson), the str/list/dict methods templates call, and the globals
// (range, dict, namespace, cycler, joiner, raise_exception, strftime_now).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "qinfer/jinja/scope.h"
#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

// Index in the filter/test table, or -1.
int find_filter(std::string_view name);
int find_test(std::string_view name);
Value run_filter(int id, Renderer& r, const Value& subject, CallArgs& args);
bool run_test(int id, Renderer& r, const Value& subject, CallArgs& args);

// The attribute `name` of a str/list/tuple/dict value as Python's getattr
// finds it: a bound method, an Undefined that raises SecurityError when used
// (a mutating method the immutable sandbox refuses), or nullopt (no such attribute).
std::optional<Value> find_method(const Value& self, const std::string& name);

// Adds the globals to a scope.
void add_globals(Scope& scope);

}  // namespace qinfer::jinja
