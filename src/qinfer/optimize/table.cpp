#include "qinfer/optimize/table.h"

#include <algorithm>
#include <cstdio>

#include "qinfer/core/format.h"

namespace qinfer {

namespace {

template <typename... Args>
std::string fmt(const char* f, Args... args) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

// Display columns of UTF-8 text ("±", "Δ" and "—" are one column, several bytes).
int columns(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string format_comparison_table(const std::vector<VariantResult>& rows) {
  const std::string pp = rows.empty() ? "pp" : rows[0].pp_test, tg = rows.empty() ? "tg" : rows[0].tg_test;
  std::vector<std::vector<std::string>> cells = {
      {"type", "size", "bpw", pp + " t/s", tg + " t/s", "peak RSS", "PPL", "ΔPPL", "KLD", "top-1 %"}};
  for (const VariantResult& r : rows) {
    cells.push_back({r.label, format_bytes(double(r.file_bytes)), fmt("%.2f", r.bits_per_weight),
                     fmt("%.1f ± %.1f", r.pp_tps, r.pp_tps_sd), fmt("%.1f ± %.1f", r.tg_tps, r.tg_tps_sd),
                     format_bytes(double(r.peak_rss_bytes)), fmt("%.4f", r.ppl),
                     r.baseline ? "—" : fmt("%+.4f", r.delta_ppl), r.baseline ? "—" : fmt("%.6f", r.kld_mean),
                     r.baseline ? "—" : fmt("%.2f", r.same_top_pct)});
  }
  std::vector<int> width(cells[0].size(), 0);
  for (const auto& row : cells)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], columns(row[c]));
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    for (size_t c = 0; c < cells[i].size(); ++c) {
      const std::string fill(size_t(width[c] - columns(cells[i][c])), ' ');
      out += "| ";
      out += c == 0 ? cells[i][c] + fill : fill + cells[i][c];  // names left, numbers right
      out += ' ';
    }
    out += "|\n";
    if (i == 0) {
      for (int w : width) out += "|" + std::string(size_t(w + 2), '-');
      out += "|\n";
    }
  }
  return out;
}

}  // namespace qinfer
