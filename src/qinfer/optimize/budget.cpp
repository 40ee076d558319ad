#include "qinfer/optimize/budget.h"

#include <cstdio>

namespace qinfer {

namespace {

std::string fmt(const char* f, double a, double b, double c) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

double base_ppl(const std::vector<VariantResult>& rows) {
  for (const VariantResult& r : rows)
    if (r.baseline) return r.ppl;
  return 0;
}

}  // namespace

BudgetVerdict judge_budget(const std::vector<VariantResult>& rows, const QualityBudget& b) {
  BudgetVerdict v;
  const double base = base_ppl(rows);
  const VariantResult* fastest = nullptr;
  const VariantResult* smallest = nullptr;
  for (const VariantResult& r : rows) {
    if (r.baseline) continue;
    std::string why;
    if (b.max_kld && !(r.kld_mean <= *b.max_kld))
      why += fmt("KLD %.6f > %g (%+.0f %%)", r.kld_mean, *b.max_kld, 100 * (r.kld_mean - *b.max_kld) / *b.max_kld);
    if (b.max_ppl_increase_pct) {
      const double inc = base > 0 ? 100 * (r.ppl - base) / base : 0;
      if (!(inc <= *b.max_ppl_increase_pct))
        why += std::string(why.empty() ? "" : ", ") +
               fmt("PPL +%.2f %% > %g %% (%+.2f points)", inc, *b.max_ppl_increase_pct, inc - *b.max_ppl_increase_pct);
    }
    if (!why.empty()) {
      v.failed.push_back(r.label + ": " + why);
      continue;
    }
    v.passed.push_back(r.label);
    if (!fastest || r.tg_tps > fastest->tg_tps) fastest = &r;
    if (!smallest || r.file_bytes < smallest->file_bytes) smallest = &r;
  }
  if (fastest) v.fastest = fastest->label;
  if (smallest) v.smallest = smallest->label;
  return v;
}

std::string format_budget(const BudgetVerdict& v, const QualityBudget& b) {
  std::string s = "quality budget:";
  if (b.max_kld) s += fmt(" mean KLD <= %g", *b.max_kld, 0, 0);
  if (b.max_ppl_increase_pct) s += std::string(b.max_kld ? "," : "") + fmt(" PPL increase <= %g %%", *b.max_ppl_increase_pct, 0, 0);
  s += "\n";
  if (v.passed.empty()) {
    s += "  no variant is within the budget\n";
  } else {
    s += "  fastest within budget : " + v.fastest + "\n";
    s += "  smallest within budget: " + v.smallest + "\n";
  }
  for (const std::string& f : v.failed) s += "  failed: " + f + "\n";
  return s;
}

}  // namespace qinfer
