#include "qinfer/core/format.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "qinfer/core/error.h"

namespace qinfer {

ByteUnit byte_unit(double bytes) {
  static const char* const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double size = 1;
  while (u < 4 && bytes >= size * 1024) {
    size *= 1024;
    ++u;
  }
  return {size, names[u]};
}

std::string format_bytes(double bytes) {
  const ByteUnit unit = byte_unit(bytes);
  char buf[48];
  std::snprintf(buf, sizeof buf, unit.size == 1 ? "%.0f %s" : "%.2f %s", bytes / unit.size, unit.name);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  auto bad = [&]() {
    return InputError(what + " " + text + ": expected a size in bytes such as 8G, 512MiB or 1073741824");
  };
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) throw bad();
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(text.substr(0, i), &used);
    if (used != i) throw bad();
  } catch (const std::logic_error&) {
    throw bad();
  }
  std::string unit = text.substr(i);
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  static const struct {
    const char* name;
    int power;
  } units[] = {{"", 0},  {"B", 0},   {"K", 1},   {"KB", 1}, {"KIB", 1}, {"M", 2}, {"MB", 2},  {"MIB", 2},
               {"G", 3}, {"GB", 3}, {"GIB", 3}, {"T", 4},  {"TB", 4},  {"TIB", 4}};
  for (const auto& u : units) {
    if (unit != u.name) continue;
    double bytes = std::ldexp(value, 10 * u.power);
    if (!std::isfinite(bytes) || bytes >= 18446744073709551616.0) throw bad();
    return uint64_t(std::floor(bytes));
  }
  throw bad();
}

}  // namespace qinfer
