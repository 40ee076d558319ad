// Human-readable quantities, one spelling everywhere (tables, reports, info).
#pragma once
#include <cstdint>
#include <string>

namespace qinfer {

// The largest binary unit (B, KiB, ... TiB) that `bytes` reaches: one choice
// for numbers in text and for the axes of charts.
struct ByteUnit {
  double size;       // bytes in one unit: 1, 1024, ...
  const char* name;  // "B", "KiB", ...
};
ByteUnit byte_unit(double bytes);

// Binary units: "512 B", "1.13 MiB", "2.20 GiB" (two decimals above bytes).
std::string format_bytes(double bytes);

// A size in bytes as users write it: "8G", "512MiB", "1.5GB", "1073741824"
// (binary units: K/M/G/T = 1024^n, with or without "i" and "B", any case).
// One spelling for every --memory-budget and --kv-budget. Throws InputError
// naming `what` (the flag).
uint64_t parse_byte_size(const std::string& text, const std::string& what);

// A CSV field: quoted (with doubled quotes) when it holds a comma, quote or newline.
std::string csv_field(const std::string& s);

}  // namespace qinfer
