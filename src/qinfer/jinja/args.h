// Binding call arguments to a Python-style signature for the built-ins:
// positional first, then keywords by name; unknown or surplus arguments are
// a TypeError, as in Python.
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

class Args {
 public:
  Args(const std::string& function, CallArgs& call, std::initializer_list<const char*> names)
      : function_(function), names_(names), values_(names.size(), nullptr) {
    if (call.args.size() > names_.size())
      fail(ErrorKind::Type, function_ + "() takes at most " + std::to_string(names_.size()) + " arguments (" +
                                std::to_string(call.args.size()) + " given)");
    for (size_t i = 0; i < call.args.size(); ++i) values_[i] = &call.args[i];
    for (auto& [k, v] : call.kwargs) {
      size_t i = 0;
      while (i < names_.size() && k != names_[i]) ++i;
      if (i == names_.size()) fail(ErrorKind::Type, function_ + "() got an unexpected keyword argument '" + k + "'");
      if (values_[i]) fail(ErrorKind::Type, function_ + "() got multiple values for argument '" + k + "'");
      values_[i] = &v;
    }
  }
  bool has(size_t i) const { return values_[i] != nullptr; }
  Value get(size_t i, Value fallback) const { return values_[i] ? *values_[i] : std::move(fallback); }
  const Value& required(size_t i) const {
    if (!values_[i]) fail(ErrorKind::Type, function_ + "() missing required argument: '" + names_[i] + "'");
    return *values_[i];
  }
  int64_t integer(size_t i, int64_t fallback) const {
    if (!values_[i]) return fallback;
    if (!values_[i]->is_integral())
      fail(ErrorKind::Type, "'" + type_name(*values_[i]) + "' object cannot be interpreted as an integer");
    return values_[i]->integer();
  }
  bool flag(size_t i, bool fallback) const { return values_[i] ? truthy(*values_[i]) : fallback; }

 private:
  std::string function_;
  std::vector<const char*> names_;
  std::vector<const Value*> values_;
};

}  // namespace qinfer::jinja
