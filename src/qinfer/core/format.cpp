#include "qinfer/core/format.h"

#include <cstdio>

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

}  // namespace qinfer
