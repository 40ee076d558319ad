#include "qinfer/jinja/pyformat.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qinfer/jinja/unicode.h"

namespace qinfer::jinja {

std::string float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+17"
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp10 = std::atoi(sci.c_str() + e + 1);
  const int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  std::string out = sign;
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    return out + eb;
  }
  if (decpt <= 0) return out + "0." + std::string(size_t(-decpt), '0') + digits;
  if (size_t(decpt) >= digits.size()) return out + digits + std::string(size_t(decpt) - digits.size(), '0') + ".0";
  return out + digits.substr(0, size_t(decpt)) + "." + digits.substr(size_t(decpt));
}

double round_float(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  if (ndigits > 308) return x;
  if (ndigits >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", int(ndigits), x);
    return std::strtod(buf, nullptr);
  }
  if (ndigits < -308) return 0.0 * x;
  const double p = std::pow(10.0, double(-ndigits));
  const double y = x / p;
  double r = std::nearbyint(y);  // ties to even under the default rounding mode
  return r * p;
}

namespace {

std::string_view strip_ws(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && is_space(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && is_space(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// Removes '_' that sit between two digits; nullopt for any other '_'.
std::optional<std::string> drop_underscores(std::string_view s, int base) {
  auto is_digit = [base](char c) {
    if (base <= 10) return c >= '0' && c < char('0' + base);
    return (c >= '0' && c <= '9') || (c >= 'a' && c < char('a' + base - 10)) || (c >= 'A' && c < char('A' + base - 10));
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !is_digit(s[i - 1]) || !is_digit(s[i + 1])) return std::nullopt;
      continue;
    }
    out += s[i];
  }
  return out;
}

}  // namespace

std::optional<int64_t> parse_python_int(std::string_view text, int base) {
  std::string_view s = strip_ws(text);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  auto has_prefix = [&](char p) { return s.size() >= 2 && s[0] == '0' && (s[1] == p || s[1] == char(p - 32)); };
  if (base == 0) {
    base = has_prefix('x') ? 16 : has_prefix('o') ? 8 : has_prefix('b') ? 2 : 10;
    if (base == 10 && s.size() > 1 && s[0] == '0' && s.find_first_not_of("0_") != std::string_view::npos) return std::nullopt;
  }
  if ((base == 16 && has_prefix('x')) || (base == 8 && has_prefix('o')) || (base == 2 && has_prefix('b'))) {
    s.remove_prefix(2);
    if (!s.empty() && s[0] == '_') s.remove_prefix(1);
  }
  if (s.empty() || base < 2 || base > 36) return std::nullopt;
  auto clean = drop_underscores(s, base);
  if (!clean || clean->empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(clean->data(), clean->data() + clean->size(), v, base);
  if (ec != std::errc() || p != clean->data() + clean->size()) {
    if (ec == std::errc::result_out_of_range) fail(ErrorKind::Overflow, "integer out of the 64-bit range: " + std::string(text));
    return std::nullopt;
  }
  if (v > uint64_t(INT64_MAX) + (neg ? 1 : 0)) fail(ErrorKind::Overflow, "integer out of the 64-bit range: " + std::string(text));
  return neg ? int64_t(0 - v) : int64_t(v);
}

std::optional<double> parse_python_float(std::string_view text) {
  std::string_view s = strip_ws(text);
  std::string lower;
  for (char c : s) lower += char(c >= 'A' && c <= 'Z' ? c + 32 : c);
  std::string_view body = lower;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "inf" || body == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
  if (body == "nan") return std::nan("");
  // digits [. digits] [e [+-] digits], at least one digit in the mantissa.
  std::string clean;
  size_t i = 0;
  bool mantissa_digit = false;
  auto digits = [&](bool& any) {
    size_t start = i;
    while (i < body.size() && ((body[i] >= '0' && body[i] <= '9') || body[i] == '_')) ++i;
    auto d = drop_underscores(body.substr(start, i - start), 10);
    if (!d) return false;
    clean += *d;
    any = any || !d->empty();
    return true;
  };
  if (!digits(mantissa_digit)) return std::nullopt;
  if (i < body.size() && body[i] == '.') {
    clean += '.';
    ++i;
    if (!digits(mantissa_digit)) return std::nullopt;
  }
  if (!mantissa_digit) return std::nullopt;
  if (i < body.size() && body[i] == 'e') {
    clean += 'e';
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) clean += body[i++];
    bool exp_digit = false;
    if (!digits(exp_digit) || !exp_digit) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  const double v = std::strtod(clean.c_str(), nullptr);
  return neg ? -v : v;
}

namespace {

struct Spec {
  char32_t fill = ' ';
  char align = 0;  // < > = ^
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int width = -1;
  char grouping = 0;
  int precision = -1;
  char type = 0;
};

Spec parse_spec(std::string_view spec) {
  Spec s;
  const std::u32string u = to_u32(spec);
  size_t i = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '=' || c == '^'; };
  if (u.size() >= 2 && is_align(u[1])) {
    s.fill = u[0];
    s.align = char(u[1]);
    i = 2;
  } else if (!u.empty() && is_align(u[0])) {
    s.align = char(u[0]);
    i = 1;
  }
  if (i < u.size() && (u[i] == '+' || u[i] == '-' || u[i] == ' ')) s.sign = char(u[i++]);
  if (i < u.size() && u[i] == 'z') ++i;
  if (i < u.size() && u[i] == '#') s.alternate = true, ++i;
  if (i < u.size() && u[i] == '0') s.zero = true, ++i;
  auto number = [&]() {
    int v = -1;
    while (i < u.size() && u[i] >= '0' && u[i] <= '9') {
      v = (v < 0 ? 0 : v) * 10 + int(u[i++] - '0');
      if (v > 1000000) fail(ErrorKind::Value, "Too many decimal digits in format string");
    }
    return v;
  };
  s.width = number();
  if (i < u.size() && (u[i] == ',' || u[i] == '_')) s.grouping = char(u[i++]);
  if (i < u.size() && u[i] == '.') {
    ++i;
    s.precision = number();
    if (s.precision < 0) fail(ErrorKind::Value, "Format specifier missing precision");
  }
  if (i < u.size()) s.type = char(u[i++]);
  if (i != u.size()) fail(ErrorKind::Value, "Invalid format specifier");
  if (s.zero && !s.align) {
    s.fill = '0';
    s.align = '=';
  }
  return s;
}

std::string group_digits(const std::string& digits, char sep, int every) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i && (n - i) % every == 0) out += sep;
    out += digits[i];
  }
  return out;
}

// Pads sign+body to the width with the fill and alignment.
std::string pad(const std::string& sign, const std::string& body, const Spec& s, char default_align) {
  const char align = s.align ? s.align : default_align;
  const size_t len = utf8_length(sign) + utf8_length(body);
  if (s.width < 0 || size_t(s.width) <= len) return sign + body;
  const size_t fill_n = size_t(s.width) - len;
  std::string fill;
  for (size_t k = 0; k < fill_n; ++k) append_utf8(fill, s.fill);
  auto fills = [&](size_t n) {
    std::string f;
    for (size_t k = 0; k < n; ++k) append_utf8(f, s.fill);
    return f;
  };
  switch (align) {
    case '<': return sign + body + fill;
    case '=': return sign + fill + body;
    case '^': return fills(fill_n / 2) + sign + body + fills(fill_n - fill_n / 2);
    default: return fill + sign + body;
  }
}

std::string format_float_spec(double x, Spec s) {
  std::string sign = std::signbit(x) && !std::isnan(x) ? "-" : (s.sign == '+' ? "+" : s.sign == ' ' ? " " : "");
  const double a = std::fabs(x);
  std::string body;
  char type = s.type;
  if (std::isinf(a) || std::isnan(a)) {
    body = std::isnan(a) ? "nan" : "inf";
    if (type == 'E' || type == 'F' || type == 'G') body = std::isnan(a) ? "NAN" : "INF";
    return pad(sign, body, s, '>');
  }
  char buf[512];
  const int prec = s.precision < 0 ? 6 : std::min(s.precision, 400);
  if (type == 0) {
    if (s.precision < 0) {
      body = float_repr(a);
    } else {
      std::snprintf(buf, sizeof buf, s.alternate ? "%#.*g" : "%.*g", std::max(prec, 1), a);
      body = buf;
      if (body.find_first_of(".e") == std::string::npos) body += ".0";
      const size_t e = body.find('e');  // Python writes at least 2 exponent digits, as C does
      (void)e;
    }
  } else if (type == 'f' || type == 'F' || type == '%') {
    std::snprintf(buf, sizeof buf, s.alternate ? "%#.*f" : "%.*f", prec, type == '%' ? a * 100 : a);
    body = buf;
    if (type == '%') body += "%";
  } else if (type == 'e' || type == 'E') {
    std::snprintf(buf, sizeof buf, s.alternate ? "%#.*e" : "%.*e", prec, a);
    body = buf;
    if (type == 'E') body = str_upper(body);
  } else if (type == 'g' || type == 'G' || type == 'n') {
    std::snprintf(buf, sizeof buf, s.alternate ? "%#.*g" : "%.*g", prec == 0 ? 1 : prec, a);
    body = buf;
    if (type == 'G') body = str_upper(body);
  } else {
    fail(ErrorKind::Value, std::string("Unknown format code '") + type + "' for object of type 'float'");
  }
  if (s.grouping) {
    size_t end = body.find_first_of(".eE%");
    if (end == std::string::npos) end = body.size();
    body = group_digits(body.substr(0, end), s.grouping, 3) + body.substr(end);
  }
  return pad(sign, body, s, '>');
}

std::string format_int_spec(int64_t v, const Spec& s) {
  if (s.type == 'e' || s.type == 'E' || s.type == 'f' || s.type == 'F' || s.type == 'g' || s.type == 'G' ||
      s.type == '%')
    return format_float_spec(double(v), s);
  if (s.precision >= 0) fail(ErrorKind::Value, "Precision not allowed in integer format specifier");
  const uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
  std::string sign = v < 0 ? "-" : (s.sign == '+' ? "+" : s.sign == ' ' ? " " : "");
  int base = 10;
  std::string prefix;
  switch (s.type) {
    case 0:
    case 'd':
    case 'n': break;
    case 'x': base = 16, prefix = "0x"; break;
    case 'X': base = 16, prefix = "0X"; break;
    case 'o': base = 8, prefix = "0o"; break;
    case 'b': base = 2, prefix = "0b"; break;
    case 'c': {
      std::string ch;
      if (v < 0 || v > 0x10FFFF) fail(ErrorKind::Overflow, "%c arg not in range(0x110000)");
      append_utf8(ch, char32_t(v));
      return pad("", ch, s, '<');
    }
    default: fail(ErrorKind::Value, std::string("Unknown format code '") + s.type + "' for object of type 'int'");
  }
  char buf[80];
  auto res = std::to_chars(buf, buf + sizeof buf, mag, base);
  std::string digits(buf, res.ptr);
  if (s.type == 'X') digits = str_upper(digits);
  if (s.grouping) digits = group_digits(digits, s.grouping, base == 10 ? 3 : 4);
  return pad(sign + (s.alternate ? prefix : ""), digits, s, '>');
}

}  // namespace

std::string format_with_spec(const Value& v, std::string_view spec) {
  if (spec.empty()) return to_str(v);
  const Spec s = parse_spec(spec);
  if (v.is_float()) return format_float_spec(v.number(), s);
  if (v.is_int() || (v.is_bool() && s.type && s.type != 's')) return format_int_spec(v.integer(), s);
  if (v.is_str()) {
    if (s.type && s.type != 's') fail(ErrorKind::Value, std::string("Unknown format code '") + s.type + "' for object of type 'str'");
    if (s.align == '=') fail(ErrorKind::Value, "'=' alignment not allowed in string format specifier");
    if (s.sign != '-') fail(ErrorKind::Value, "Sign not allowed in string format specifier");
    std::string body = v.str();
    if (s.precision >= 0) {
      const std::u32string u = to_u32(body);
      if (size_t(s.precision) < u.size()) body = to_utf8(u.substr(0, size_t(s.precision)));
    }
    return pad("", body, s, '<');
  }
  fail(ErrorKind::Type, "unsupported format string passed to " + type_name(v) + ".__format__");
}

std::string percent_format(const std::string& fmt, const Value& args) {
  // Python takes any argument with __getitem__ other than a tuple or str as a
  // mapping: it is then one argument, and unused it is no error.
  const bool mapping = args.is_dict() || args.is_list() || args.is_undefined() ||
                       (args.is_object() && args.object().has_items() && !args.is_tuple());
  ValueList positional;
  if (args.is_tuple()) positional = args.items();
  else positional.push_back(args);
  size_t next = 0;
  bool used_mapping = false;
  auto take = [&]() -> const Value& {
    if (next >= positional.size()) fail(ErrorKind::Type, "not enough arguments for format string");
    return positional[next++];
  };
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) fail(ErrorKind::Value, "incomplete format");
    const Value* arg = nullptr;
    if (fmt[i] == '(') {
      if (!mapping) fail(ErrorKind::Type, "format requires a mapping");
      if (args.is_undefined()) args.raise_undefined();
      if (!args.is_dict()) fail(ErrorKind::Type, type_name(args) + " indices must be integers or slices, not str");
      int depth = 1;
      size_t start = ++i;
      while (i < fmt.size() && depth) {
        if (fmt[i] == '(') ++depth;
        else if (fmt[i] == ')') --depth;
        ++i;
      }
      if (depth) fail(ErrorKind::Value, "incomplete format key");
      const std::string key = fmt.substr(start, i - 1 - start);
      arg = args.dict().find(Value(key));
      if (!arg) fail(ErrorKind::Key, repr_str(key));
      used_mapping = true;
    }
    Spec s;
    std::string flags;
    while (i < fmt.size() && std::strchr("#0- +", fmt[i])) flags += fmt[i++];
    auto star_or_number = [&](int& dst) {
      if (i < fmt.size() && fmt[i] == '*') {
        const Value& w = take();
        if (!w.is_integral()) fail(ErrorKind::Type, "* wants int");
        dst = int(std::max<int64_t>(-1000000, std::min<int64_t>(1000000, w.integer())));
        ++i;
        return;
      }
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        dst = (dst < 0 ? 0 : dst) * 10 + (fmt[i++] - '0');
        if (dst > 1000000) fail(ErrorKind::Value, "width too big");
      }
    };
    star_or_number(s.width);
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      s.precision = 0;
      star_or_number(s.precision);
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) fail(ErrorKind::Value, "incomplete format");
    const char type = fmt[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (!arg) arg = &take();
    const bool left = flags.find('-') != std::string::npos;
    if (left) s.align = '<';
    if (flags.find('+') != std::string::npos) s.sign = '+';
    else if (flags.find(' ') != std::string::npos) s.sign = ' ';
    s.alternate = flags.find('#') != std::string::npos;
    if (flags.find('0') != std::string::npos && !left) s.fill = '0', s.align = '=';
    std::string piece;
    switch (type) {
      case 's':
      case 'r':
      case 'a': {
        std::string body = type == 's' ? to_str(*arg) : repr(*arg);
        if (s.precision >= 0) {
          const std::u32string u = to_u32(body);
          if (size_t(s.precision) < u.size()) body = to_utf8(u.substr(0, size_t(s.precision)));
        }
        Spec t = s;
        t.fill = ' ';
        if (!left) t.align = '>';
        piece = pad("", body, t, '>');
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        if (!arg->is_number())
          fail(ErrorKind::Type, std::string("%") + type + " format: a real number is required, not " + type_name(*arg));
        int64_t v;
        if (arg->is_float()) {
          const double f = arg->number();
          if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) fail(ErrorKind::Overflow, "cannot convert float to integer");
          v = int64_t(f);
        } else {
          v = arg->integer();
        }
        Spec t = s;
        t.type = type == 'i' || type == 'u' ? 'd' : type;
        const int prec = t.precision;
        t.precision = -1;
        piece = format_int_spec(v, t);
        if (prec > 0) {  // %.3d: minimum digits
          Spec u = t;
          u.width = -1;
          std::string digits = format_int_spec(v < 0 ? -v : v, u);
          if (int(digits.size()) < prec) digits = std::string(size_t(prec) - digits.size(), '0') + digits;
          piece = pad(v < 0 ? "-" : (t.sign == '+' ? "+" : t.sign == ' ' ? " " : ""), digits, t, '>');
        }
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!arg->is_number())
          fail(ErrorKind::Type, std::string("must be real number, not ") + type_name(*arg));
        Spec t = s;
        t.type = type;
        piece = format_float_spec(arg->number(), t);
        break;
      }
      case 'c': {
        if (arg->is_str() && utf8_length(arg->str()) == 1) {
          piece = pad("", arg->str(), s, '>');
        } else if (arg->is_integral()) {
          Spec t = s;
          t.type = 'c';
          piece = format_int_spec(arg->integer(), t);
          if (!left && s.width > 0) piece = pad("", piece.substr(0, piece.find_last_not_of(' ') + 1), s, '>');
        } else {
          fail(ErrorKind::Type, "%c requires int or char");
        }
        break;
      }
      default:
        fail(ErrorKind::Value, std::string("unsupported format character '") + type + "'");
    }
    out += piece;
  }
  if (!mapping && next < positional.size()) fail(ErrorKind::Type, "not all arguments converted during string formatting");
  (void)used_mapping;
  return out;
}

}  // namespace qinfer::jinja
