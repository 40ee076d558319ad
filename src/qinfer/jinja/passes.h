// What the parser settles after building the tree, as jinja2's compiler does.
#pragma once
#include "qinfer/jinja/ast.h"

namespace qinfer::jinja {

// Looks up every filter and test; an unknown one fails now (TemplateError,
// Syntax) unless it sits in an {% if %} or an inline if-expression, where
// jinja2 defers the failure to when it runs.
void resolve_names(ast::Template& t);
// Marks the {{ }} expressions jinja2 evaluates while compiling.
void mark_constant_outputs(ast::Template& t);
// Records which of varargs/kwargs/caller each macro body reads.
void mark_macro_arguments(ast::Template& t);

}  // namespace qinfer::jinja
