// Errors of the template language. Each carries the class of error Python's
// jinja2 would raise in the same place (so tests and callers can tell a
// template's own raise_exception() from a type error or a syntax error) and,
// where known, the template line.
#pragma once
#include <string>

#include "qinfer/core/error.h"

namespace qinfer::jinja {

enum class ErrorKind {
  Syntax,        // TemplateSyntaxError (also TemplateAssertionError: unknown filter/test)
  Undefined,     // UndefinedError
  Type,          // TypeError
  Value,         // ValueError
  Index,         // IndexError
  Key,           // KeyError
  Attribute,     // AttributeError
  ZeroDivision,  // ZeroDivisionError
  Overflow,      // OverflowError (also: integers beyond 64 bits, which Python would allow)
  Security,      // SecurityError (the immutable sandbox)
  Raised,        // TemplateError from the template's raise_exception(message)
  Runtime,       // TemplateRuntimeError
  Assertion,     // AssertionError (truncate's argument checks)
  Limit,         // not Python: the renderer's step/depth/size limits
};

// The Python exception class name for a kind ("TypeError", "UndefinedError", ...).
const char* python_error_class(ErrorKind kind);

class TemplateError : public InputError {
 public:
  TemplateError(ErrorKind kind, const std::string& message, int line = 0)
      : InputError(line > 0 ? message + " (template line " + std::to_string(line) + ")" : message),
        kind_(kind), message_(message), line_(line) {}
  ErrorKind kind() const { return kind_; }
  // The message alone, as Python's str(exception) would print it.
  const std::string& message() const { return message_; }
  int line() const { return line_; }

 private:
  ErrorKind kind_;
  std::string message_;
  int line_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw TemplateError(kind, message); }

}  // namespace qinfer::jinja
