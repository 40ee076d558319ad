// The globals every template sees: jinja2's range (capped as the sandbox
// caps it), dict, namespace, cycler, joiner; and Hugging Face's
// raise_exception and strftime_now.
#include <ctime>

#include "qinfer/jinja/args.h"
#include "qinfer/jinja/builtins.h"
#include "qinfer/jinja/objects.h"
#include "qinfer/jinja/renderer.h"

namespace qinfer::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Value g_range(Renderer&, CallArgs& c) {
  if (!c.kwargs.empty()) fail(ErrorKind::Type, "range() takes no keyword arguments");
  if (c.args.empty() || c.args.size() > 3)
    fail(ErrorKind::Type, "range expected at most 3 arguments, got " + std::to_string(c.args.size()));
  int64_t v[3] = {0, 0, 0};
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (!c.args[i].is_integral()) {
      std::string msg = "'";
      msg += type_name(c.args[i]);
      fail(ErrorKind::Type, msg + "' object cannot be interpreted as an integer");
    }
    v[i] = c.args[i].integer();
  }
  int64_t start = 0, stop, step = 1;
  if (c.args.size() == 1) stop = v[0];
  else start = v[0], stop = v[1];
  if (c.args.size() == 3) step = v[2];
  if (step == 0) fail(ErrorKind::Value, "range() arg 3 must not be zero");
  auto r = std::make_shared<RangeObject>(start, stop, step);
  // Lengths beyond 64 bits cannot occur in the sandbox's range: compute with care.
  const __int128 span = step > 0 ? __int128(stop) - start : __int128(start) - stop;
  const __int128 n = span <= 0 ? 0 : (span - 1) / (step > 0 ? step : -__int128(step)) + 1;
  if (n > kMaxRange)
    fail(ErrorKind::Overflow, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(kMaxRange) + ").");
  return Value::object(r);
}

Dict dict_from(CallArgs& c, const char* who) {
  Dict d;
  if (c.args.size() > 1) fail(ErrorKind::Type, std::string(who) + " expected at most 1 argument, got " + std::to_string(c.args.size()));
  if (!c.args.empty()) {
    const Value& src = c.args[0];
    if (src.is_dict()) {
      d = src.dict();
    } else {
      for (const Value& pair : iterate(src)) {
        const ValueList kv = iterate(pair);
        if (kv.size() != 2)
          fail(ErrorKind::Value, "dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [k, v] : c.kwargs) d.set(Value(k), v);
  return d;
}

Value g_dict(Renderer&, CallArgs& c) { return Value::dict(dict_from(c, "dict")); }
Value g_namespace(Renderer&, CallArgs& c) { return Value::object(std::make_shared<Namespace>(dict_from(c, "Namespace"))); }

Value g_cycler(Renderer&, CallArgs& c) {
  if (c.args.empty()) fail(ErrorKind::Runtime, "at least one item has to be provided");
  return Value::object(std::make_shared<Cycler>(c.args));
}

Value g_joiner(Renderer&, CallArgs& c) {
  Args a("joiner", c, {"sep"});
  return Value::object(std::make_shared<Joiner>(to_str(a.get(0, Value(", ")))));
}

Value g_raise_exception(Renderer&, CallArgs& c) {
  Args a("raise_exception", c, {"message"});
  throw TemplateError(ErrorKind::Raised, to_str(a.required(0)));
}

Value g_strftime_now(Renderer& r, CallArgs& c) {
  Args a("strftime_now", c, {"format"});
  const std::string fmt = to_str(a.required(0));
  if (r.env().strftime_now) return Value(r.env().strftime_now(fmt));
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[512];
  const size_t n = fmt.empty() ? 0 : std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return Value(std::string(buf, n));
}

}  // namespace

void add_globals(Scope& scope) {
  auto add = [&](const char* name, NativeFunction fn, const char* repr = "") {
    scope.set(name, Value::object(std::make_shared<BuiltinFunction>(name, std::move(fn), repr)));
  };
  add("range", g_range);
  add("dict", g_dict, "<class 'dict'>");
  add("namespace", g_namespace, "<class 'jinja2.utils.Namespace'>");
  add("cycler", g_cycler, "<class 'jinja2.utils.Cycler'>");
  add("joiner", g_joiner, "<class 'jinja2.utils.Joiner'>");
  add("raise_exception", g_raise_exception);
  add("strftime_now", g_strftime_now);
}

}  // namespace qinfer::jinja
