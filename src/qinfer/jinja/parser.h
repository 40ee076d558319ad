// Tokens -> syntax tree, following jinja2's parser.py grammar (precedence,
// tuples, filters and tests, statements, loopcontrols' break/continue).
// Unknown filters and tests fail at parse time unless they sit inside an
// {% if %} or an inline if-expression, where jinja2 defers the error to run
// time.
#pragma once
#include <vector>

#include "qinfer/jinja/ast.h"
#include "qinfer/jinja/lexer.h"

namespace qinfer::jinja {

// Throws TemplateError(Syntax) with the line.
ast::Template parse(std::vector<Token> tokens);

}  // namespace qinfer::jinja
