// The comparison table `qinfer optimize` prints: one row per variant.
#pragma once
#include <string>
#include <vector>

#include "qinfer/optimize/variant.h"

namespace qinfer {

// Fixed-width text table (type, size, bits/weight, pp, tg, peak RSS, PPL, ΔPPL, KLD, top-1 %).
std::string format_comparison_table(const std::vector<VariantResult>& rows);

}  // namespace qinfer
