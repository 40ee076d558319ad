// Python's number and string formatting: repr(float), printf-style `%`, and
// the format-spec mini-language of str.format()/format().
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "qinfer/jinja/value.h"

namespace qinfer::jinja {

// repr(float): the shortest string that reads back to x, in Python's layout
// (1.0, 1e+16, 1e-05, inf, nan).
std::string float_repr(double x);
// fmt % args: args is a tuple of values, a dict (for %(name)s), or one value.
std::string percent_format(const std::string& fmt, const Value& args);
// format(value, spec) for str, int, bool, float and None/others via str().
std::string format_with_spec(const Value& v, std::string_view spec);
// Python's round(x, ndigits) for floats (correctly rounded, ties to even).
double round_float(double x, int64_t ndigits);
// int("  -1_000 ", base) and float("1e5"): nullopt when Python raises ValueError.
std::optional<int64_t> parse_python_int(std::string_view s, int base);
std::optional<double> parse_python_float(std::string_view s);

}  // namespace qinfer::jinja
