#include "qinfer/jinja/operators.h"

#include <cmath>

#include "qinfer/jinja/pyformat.h"
#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

using ast::BinaryOp;
using ast::CompareOp;

namespace {

const char* symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::FloorDiv: return "//";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Pow: return "** or pow()";
    default: return "?";
  }
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  fail(ErrorKind::Type, std::string("unsupported operand type(s) for ") + symbol(op) + ": '" + type_name(a) + "' and '" +
                            type_name(b) + "'");
}

[[noreturn]] void overflow() { fail(ErrorKind::Overflow, "integer result beyond 64 bits"); }

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

Value int_pow(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 0) fail(ErrorKind::ZeroDivision, "0.0 cannot be raised to a negative power");
    return Value(std::pow(double(base), double(exp)));
  }
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) result = checked_mul(result, base);
    exp >>= 1;
    if (exp) base = checked_mul(base, base);
  }
  return Value(result);
}

Value float_op(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::Add: return Value(a + b);
    case BinaryOp::Sub: return Value(a - b);
    case BinaryOp::Mul: return Value(a * b);
    case BinaryOp::Div:
      if (b == 0) fail(ErrorKind::ZeroDivision, "float division by zero");
      return Value(a / b);
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod: {
      if (b == 0) fail(ErrorKind::ZeroDivision, op == BinaryOp::Mod ? "float modulo" : "float floor division by zero");
      double mod = std::fmod(a, b);
      if (mod != 0) {
        if ((b < 0) != (mod < 0)) mod += b;
      } else {
        mod = std::copysign(0.0, b);
      }
      if (op == BinaryOp::Mod) return Value(mod);
      const double div = (a - mod) / b;
      double floordiv;
      if (div != 0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
      } else {
        floordiv = std::copysign(0.0, a / b);
      }
      return Value(floordiv);
    }
    case BinaryOp::Pow: {
      if (a == 0 && b < 0) fail(ErrorKind::ZeroDivision, "0.0 cannot be raised to a negative power");
      if (a < 0 && b != std::floor(b)) fail(ErrorKind::Value, "a negative number raised to a fractional power is complex");
      const double r = std::pow(a, b);
      if (std::isinf(r) && std::isfinite(a) && std::isfinite(b)) fail(ErrorKind::Overflow, "(34, 'Numerical result out of range')");
      return Value(r);
    }
    default: return Value();
  }
}

Value int_op(BinaryOp op, int64_t a, int64_t b) {
  switch (op) {
    case BinaryOp::Add: return Value(checked_add(a, b));
    case BinaryOp::Sub: return Value(checked_sub(a, b));
    case BinaryOp::Mul: return Value(checked_mul(a, b));
    case BinaryOp::Div:
      if (b == 0) fail(ErrorKind::ZeroDivision, "division by zero");
      return Value(double(a) / double(b));
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod: {
      if (b == 0) fail(ErrorKind::ZeroDivision, "integer division or modulo by zero");
      if (a == INT64_MIN && b == -1) {
        if (op == BinaryOp::Mod) return Value(int64_t(0));
        overflow();
      }
      int64_t q = a / b, m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) {
        q -= 1;
        m += b;
      }
      return Value(op == BinaryOp::Mod ? m : q);
    }
    case BinaryOp::Pow: return int_pow(a, b);
    default: return Value();
  }
}

Value repeat(const Value& seq, int64_t n, size_t max_bytes) {
  if (n < 0) n = 0;
  if (seq.is_str()) {
    const std::string& s = seq.str();
    if (!s.empty() && uint64_t(n) > max_bytes / s.size())
      fail(ErrorKind::Limit, "string repetition longer than the " + std::to_string(max_bytes) + "-byte limit");
    std::string out;
    out.reserve(s.size() * size_t(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value(std::move(out), seq.is_markup());
  }
  const ValueList& items = seq.items();
  if (!items.empty() && uint64_t(n) > (max_bytes / 16) / items.size())
    fail(ErrorKind::Limit, "sequence repetition beyond the size limit");
  ValueList out;
  out.reserve(items.size() * size_t(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.is_list() ? Value::list(std::move(out)) : Value::tuple(std::move(out));
}

bool is_repeatable(const Value& v) { return v.is_str() || v.is_sequence(); }

}  // namespace

Value binary_op(BinaryOp op, const Value& a, const Value& b, size_t max_bytes) {
  if (a.is_undefined()) a.raise_undefined();
  if (b.is_undefined() && !(op == BinaryOp::Mod && a.is_str())) b.raise_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return float_op(op, a.number(), b.number());
    return int_op(op, a.integer(), b.integer());
  }
  switch (op) {
    case BinaryOp::Add:
      if (a.is_str() && b.is_str()) {
        if (a.str().size() + b.str().size() > max_bytes) fail(ErrorKind::Limit, "string longer than the size limit");
        if (a.is_markup() || b.is_markup())
          return Value(html_escape(a).str() + html_escape(b).str(), true);
        return Value(a.str() + b.str());
      }
      if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
        ValueList out = a.items();
        out.insert(out.end(), b.items().begin(), b.items().end());
        return a.is_list() ? Value::list(std::move(out)) : Value::tuple(std::move(out));
      }
      if (a.is_str() || a.is_list() || a.is_tuple())
        fail(ErrorKind::Type, "can only concatenate " + type_name(a) + " (not \"" + type_name(b) + "\") to " + type_name(a));
      unsupported(op, a, b);
    case BinaryOp::Mul:
      if (is_repeatable(a) && b.is_integral()) return repeat(a, b.integer(), max_bytes);
      if (a.is_integral() && is_repeatable(b)) return repeat(b, a.integer(), max_bytes);
      if (is_repeatable(a) || is_repeatable(b))
        fail(ErrorKind::Type, "can't multiply sequence by non-int of type '" + type_name(is_repeatable(a) ? b : a) + "'");
      unsupported(op, a, b);
    case BinaryOp::Mod:
      if (a.is_str()) {
        Value args = b;
        if (a.is_markup()) {  // markupsafe escapes the arguments
          if (b.is_tuple()) {
            ValueList esc;
            for (const Value& x : b.items()) esc.push_back(x.is_str() || !x.is_number() ? html_escape(x) : x);
            args = Value::tuple(std::move(esc));
          } else if (!b.is_dict() && !b.is_number()) {
            args = html_escape(b);
          }
        }
        std::string s = percent_format(a.str(), args);
        if (s.size() > max_bytes) fail(ErrorKind::Limit, "string longer than the size limit");
        return Value(std::move(s), a.is_markup());
      }
      unsupported(op, a, b);
    default: unsupported(op, a, b);
  }
}

Value unary_minus(const Value& v) {
  if (v.is_undefined()) v.raise_undefined();
  if (v.is_float()) return Value(-v.number());
  if (v.is_integral()) {
    if (v.integer() == INT64_MIN) overflow();
    return Value(-v.integer());
  }
  fail(ErrorKind::Type, "bad operand type for unary -: '" + type_name(v) + "'");
}

Value unary_plus(const Value& v) {
  if (v.is_undefined()) v.raise_undefined();
  if (v.is_float()) return v;
  if (v.is_integral()) return Value(v.integer());
  fail(ErrorKind::Type, "bad operand type for unary +: '" + type_name(v) + "'");
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::Eq: return equals(a, b);
    case CompareOp::Ne: return !equals(a, b);
    case CompareOp::In: return contains(b, a);
    case CompareOp::NotIn: return !contains(b, a);
    default: break;
  }
  if (a.is_undefined()) a.raise_undefined();
  if (b.is_undefined()) b.raise_undefined();
  switch (op) {
    case CompareOp::Lt: return less_than(a, b);
    case CompareOp::Gt: return less_than(b, a);
    case CompareOp::Le: return less_than(a, b) || equals(a, b);
    case CompareOp::Ge: return less_than(b, a) || equals(a, b);
    default: return false;
  }
}

std::optional<Value> index_sequence(const Value& seq, int64_t i) {
  if (seq.is_sequence()) {
    const int64_t n = int64_t(seq.items().size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return std::nullopt;
    return seq.items()[size_t(i)];
  }
  const std::string& s = seq.str();
  if (is_ascii(s)) {
    const int64_t n = int64_t(s.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return std::nullopt;
    return Value(s.substr(size_t(i), 1), seq.is_markup());
  }
  const std::u32string u = to_u32(s);
  const int64_t n = int64_t(u.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return std::nullopt;
  std::string out;
  append_utf8(out, u[size_t(i)]);
  return Value(std::move(out), seq.is_markup());
}

Value slice_sequence(const Value& seq, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto as_index = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (!v.is_integral()) fail(ErrorKind::Type, "slice indices must be integers or None or have an __index__ method");
    return v.integer();
  };
  const std::optional<int64_t> start_o = as_index(start_v), stop_o = as_index(stop_v), step_o = as_index(step_v);
  const int64_t step = step_o.value_or(1);
  if (step == 0) fail(ErrorKind::Value, "slice step cannot be zero");
  const bool is_str = seq.is_str();
  std::u32string u;
  if (is_str) u = to_u32(seq.str());
  const int64_t n = is_str ? int64_t(u.size()) : int64_t(seq.items().size());
  // PySlice_AdjustIndices
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t start = adjust(start_o, step < 0 ? n - 1 : 0);
  const int64_t stop = adjust(stop_o, step < 0 ? -1 : n);
  std::vector<int64_t> idx;
  if (step > 0) {
    for (int64_t i = start; i < stop; i += step) {
      idx.push_back(i);
      if (step >= stop - i) break;  // no overflow past stop
    }
  } else {
    for (int64_t i = start; i > stop; i += step) {
      idx.push_back(i);
      if (-step >= i - stop) break;
    }
  }
  if (is_str) {
    std::u32string out;
    for (int64_t i : idx) out += u[size_t(i)];
    return Value(to_utf8(out), seq.is_markup());
  }
  ValueList out;
  for (int64_t i : idx) out.push_back(seq.items()[size_t(i)]);
  return seq.is_list() ? Value::list(std::move(out)) : Value::tuple(std::move(out));
}

}  // namespace qinfer::jinja
