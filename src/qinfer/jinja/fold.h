// jinja2's optimizer: constant sub-expressions are evaluated when the
// template is compiled and replaced by their value when it has a literal
// form. It matters because compile-time evaluation looks up slices through
// the sandbox (Undefined on failure) while run time raises TypeError:
// `{% set a = none[1:] ~ 'x' %}` is 'x' in jinja2, not an error.
#pragma once
#include "qinfer/jinja/ast.h"

namespace qinfer::jinja {

void fold_constants(ast::Template& t);

}  // namespace qinfer::jinja
