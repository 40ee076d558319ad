// jinja2's compile-time symbol analysis (idtracking.py), reduced to what
// changes the output: which names each frame must start out as missing.
#pragma once
#include "qinfer/jinja/ast.h"

namespace qinfer::jinja {

// Fills the `hidden` lists of the template and of every frame in it.
// Throws TemplateError(Syntax) for an assignment to `loop` inside a for loop.
void analyze_scopes(ast::Template& t);

}  // namespace qinfer::jinja
