// Python's arithmetic, comparison, indexing and slicing over template values.
#pragma once
#include <cstddef>
#include <optional>

#include "qinfer/jinja/ast.h"
#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

// a OP b for + - * / // % **; results longer than max_bytes are refused.
Value binary_op(ast::BinaryOp op, const Value& a, const Value& b, size_t max_bytes);
Value unary_minus(const Value& v);
Value unary_plus(const Value& v);
bool compare_op(ast::CompareOp op, const Value& a, const Value& b);

// seq[i] for list/tuple/str with Python's negative indexing; nullopt where
// Python raises IndexError.
std::optional<Value> index_sequence(const Value& seq, int64_t i);
// seq[start:stop:step] for list/tuple/str; each bound may be None.
Value slice_sequence(const Value& seq, const Value& start, const Value& stop, const Value& step);

}  // namespace qinfer::jinja
