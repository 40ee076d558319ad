#include "qinfer/store/run_record.h"

namespace qinfer {

std::string metric::latency(const std::string& what, const std::string& stat) { return what + "_ms_" + stat; }

void RunRecord::add(const std::string& name, double value, const std::string& unit) {
  metrics.push_back({name, value, unit});
}

std::optional<double> RunRecord::find(const std::string& name) const {
  for (const Metric& m : metrics)
    if (m.name == name) return m.value;
  return std::nullopt;
}

bool valid_run_kind(const std::string& kind) { return kind == "bench" || kind == "eval" || kind == "optimize"; }

}  // namespace qinfer
