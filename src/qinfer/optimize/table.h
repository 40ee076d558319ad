// The comparison table `qinfer optimize` prints: one row per variant.
#pragma once
#include <string>
#include <vector>

#include "qinfer/optimize/variant.h"

namespace qinfer {

// Fixed-width text table (type, size, bits/weight, pp, tg, peak RSS, PPL, ΔPPL, KLD, top-1 %).
std::string format_comparison_table(const std::vector<VariantResult>& rows);

// "1.13 MiB", "2.20 GiB".
std::string format_bytes(int64_t bytes);

}  // namespace qinfer
