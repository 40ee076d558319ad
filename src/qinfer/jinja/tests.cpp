// jinja2 3.1's built-in tests (`x is defined`, `x is divisibleby 3`, ...).
#include "qinfer/jinja/args.h"
#include "qinfer/jinja/builtins.h"
#include "qinfer/jinja/objects.h"
#include "qinfer/jinja/operators.h"
#include "qinfer/jinja/renderer.h"
#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

namespace {

using Test = bool (*)(Renderer&, const Value&, CallArgs&);

const Value& one_arg(CallArgs& c, const char* name) {
  if (c.args.size() + c.kwargs.size() != 1)
    fail(ErrorKind::Type, std::string(name) + "() takes 2 positional arguments but " +
                              std::to_string(c.args.size() + c.kwargs.size() + 1) + " were given");
  return c.args.empty() ? c.kwargs[0].second : c.args[0];
}
void no_args(CallArgs& c, const char* name) {
  if (!c.args.empty() || !c.kwargs.empty())
    fail(ErrorKind::Type, std::string(name) + "() takes 1 positional argument but " +
                              std::to_string(c.args.size() + c.kwargs.size() + 1) + " were given");
}

bool mod_is(const Value& v, const Value& m, int64_t want) {
  return equals(binary_op(ast::BinaryOp::Mod, v, m, 1 << 20), Value(want));
}

bool t_odd(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_odd"); return mod_is(v, Value(int64_t(2)), 1); }
bool t_even(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_even"); return mod_is(v, Value(int64_t(2)), 0); }
bool t_divisibleby(Renderer&, const Value& v, CallArgs& c) { return mod_is(v, one_arg(c, "test_divisibleby"), 0); }
bool t_defined(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_defined"); return !v.is_undefined(); }
bool t_undefined(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_undefined"); return v.is_undefined(); }
bool t_filter(Renderer&, const Value& v, CallArgs& c) {
  no_args(c, "test_filter");
  hash_value(v);  // `value in env.filters`: unhashable values raise
  return v.is_str() && find_filter(v.str()) >= 0;
}
bool t_test(Renderer&, const Value& v, CallArgs& c) {
  no_args(c, "test_test");
  hash_value(v);
  return v.is_str() && find_test(v.str()) >= 0;
}
bool t_none(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_none"); return v.is_none(); }
bool t_boolean(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_boolean"); return v.is_bool(); }
bool t_false(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_false"); return v.is_bool() && !v.boolean(); }
bool t_true(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_true"); return v.is_bool() && v.boolean(); }
bool t_integer(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_integer"); return v.is_int(); }
bool t_float(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_float"); return v.is_float(); }
bool t_lower(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_lower"); return str_islower(to_str(v)); }
bool t_upper(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_upper"); return str_isupper(to_str(v)); }
bool t_string(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_string"); return v.is_str(); }
bool t_mapping(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_mapping"); return v.is_dict(); }
bool t_number(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_number"); return v.is_number(); }
bool t_sequence(Renderer&, const Value& v, CallArgs& c) {
  no_args(c, "test_sequence");
  // len() and __getitem__: str, list, tuple, dict, range, and (oddly) Undefined.
  return v.is_str() || v.is_sequence() || v.is_dict() || v.is_undefined() || (v.is_object() && v.object().has_items());
}
bool t_iterable(Renderer&, const Value& v, CallArgs& c) {
  no_args(c, "test_iterable");
  return is_iterable(v) || v.object_as<LoopObject>();
}
bool t_callable(Renderer&, const Value& v, CallArgs& c) {
  no_args(c, "callable");
  return v.is_undefined() || (v.is_object() && v.object().callable());
}
bool t_sameas(Renderer&, const Value& v, CallArgs& c) {
  const Value& o = one_arg(c, "test_sameas");
  if (v.kind() != o.kind()) return false;
  switch (v.kind()) {
    case Kind::None: return true;
    case Kind::Bool: return v.boolean() == o.boolean();
    case Kind::Int: return v.integer() == o.integer() && v.integer() >= -5 && v.integer() <= 256;  // CPython's small ints
    case Kind::Str: return &v.str() == &o.str();
    case Kind::List:
    case Kind::Tuple: return &v.items() == &o.items();
    case Kind::Dict: return &v.dict() == &o.dict();
    case Kind::Object: return &v.object() == &o.object();
    default: return false;
  }
}
bool t_escaped(Renderer&, const Value& v, CallArgs& c) { no_args(c, "test_escaped"); return v.is_markup(); }
bool t_in(Renderer&, const Value& v, CallArgs& c) { return contains(one_arg(c, "test_in"), v); }
bool t_eq(Renderer&, const Value& v, CallArgs& c) { return compare_op(ast::CompareOp::Eq, v, one_arg(c, "eq")); }
bool t_ne(Renderer&, const Value& v, CallArgs& c) { return compare_op(ast::CompareOp::Ne, v, one_arg(c, "ne")); }
bool t_gt(Renderer&, const Value& v, CallArgs& c) { return compare_op(ast::CompareOp::Gt, v, one_arg(c, "gt")); }
bool t_ge(Renderer&, const Value& v, CallArgs& c) { return compare_op(ast::CompareOp::Ge, v, one_arg(c, "ge")); }
bool t_lt(Renderer&, const Value& v, CallArgs& c) { return compare_op(ast::CompareOp::Lt, v, one_arg(c, "lt")); }
bool t_le(Renderer&, const Value& v, CallArgs& c) { return compare_op(ast::CompareOp::Le, v, one_arg(c, "le")); }

struct TestSpec {
  const char* name;
  Test fn;
};

const TestSpec kTests[] = {
    {"odd", t_odd}, {"even", t_even}, {"divisibleby", t_divisibleby}, {"defined", t_defined},
    {"undefined", t_undefined}, {"filter", t_filter}, {"test", t_test}, {"none", t_none}, {"boolean", t_boolean},
    {"false", t_false}, {"true", t_true}, {"integer", t_integer}, {"float", t_float}, {"lower", t_lower},
    {"upper", t_upper}, {"string", t_string}, {"mapping", t_mapping}, {"number", t_number}, {"sequence", t_sequence},
    {"iterable", t_iterable}, {"callable", t_callable}, {"sameas", t_sameas}, {"escaped", t_escaped}, {"in", t_in},
    {"==", t_eq}, {"eq", t_eq}, {"equalto", t_eq}, {"!=", t_ne}, {"ne", t_ne}, {">", t_gt}, {"gt", t_gt},
    {"greaterthan", t_gt}, {"ge", t_ge}, {">=", t_ge}, {"<", t_lt}, {"lt", t_lt}, {"lessthan", t_lt}, {"<=", t_le},
    {"le", t_le},
};

}  // namespace

int find_test(std::string_view name) {
  for (size_t i = 0; i < std::size(kTests); ++i)
    if (name == kTests[i].name) return int(i);
  return -1;
}

bool run_test(int id, Renderer& r, const Value& subject, CallArgs& args) {
  r.tick();
  return kTests[id].fn(r, subject, args);
}

}  // namespace qinfer::jinja
