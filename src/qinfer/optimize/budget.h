// A quality budget for `qinfer optimize` (--max-kld, --max-ppl-increase): which
// variants stay within it, the fastest (generation t/s) and the smallest
// (file size) of those, and by how much each of the others misses it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "qinfer/optimize/variant.h"

namespace qinfer {

struct QualityBudget {
  std::optional<double> max_kld;               // mean KL-divergence vs the baseline
  std::optional<double> max_ppl_increase_pct;  // (PPL − base PPL) / base PPL, percent
  bool any() const { return max_kld || max_ppl_increase_pct; }
};

struct BudgetVerdict {
  std::vector<std::string> passed;           // labels, in row order
  std::vector<std::string> failed;           // "Q3_K_M: KLD 0.0412 > 0.02 (+106 %)"
  std::string fastest, smallest;             // labels; empty when nothing passed
};

// Rows: baseline first (not judged), as run_optimize returns them.
BudgetVerdict judge_budget(const std::vector<VariantResult>& rows, const QualityBudget& budget);
// The lines optimize prints under the table.
std::string format_budget(const BudgetVerdict& v, const QualityBudget& budget);

}  // namespace qinfer
