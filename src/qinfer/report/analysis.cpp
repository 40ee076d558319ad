#include "qinfer/report/analysis.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace qinfer::report {

std::optional<double> Configuration::get(const std::string& name) const {
  auto it = metrics.find(name);
  if (it == metrics.end()) return std::nullopt;
  return it->second.value;
}

std::optional<double> Configuration::size_bytes() const {
  if (model.size_bytes > 0) return double(model.size_bytes);
  return get(metric::kModelBytes);
}

std::vector<Configuration> group_configurations(const std::vector<RunRecord>& runs) {
  std::vector<Configuration> out;
  std::map<std::string, size_t> index;
  for (const RunRecord& r : runs) {
    std::string label = r.label;
    if (label.empty()) label = std::filesystem::path(r.model.path).filename().string();
    if (label.empty()) label = "run " + std::to_string(r.id);
    auto [it, added] = index.emplace(label, out.size());
    if (added) {
      out.emplace_back();
      out.back().label = label;
    }
    Configuration& c = out[it->second];
    c.run_ids.push_back(r.id);
    if (!r.model.path.empty() || r.model.size_bytes > 0) {
      // Keep what earlier runs knew when a later one leaves a field empty.
      ModelInfo m = r.model;
      if (m.sha256.empty()) m.sha256 = c.model.sha256;
      if (m.type.empty()) m.type = c.model.type;
      if (m.file_type.empty()) m.file_type = c.model.file_type;
      if (m.size_bytes == 0) m.size_bytes = c.model.size_bytes;
      if (m.n_params == 0) m.n_params = c.model.n_params;
      if (m.bits_per_weight == 0) m.bits_per_weight = c.model.bits_per_weight;
      c.model = m;
    }
    c.machine = r.machine;
    c.engine = r.engine;
    for (const Metric& m : r.metrics) c.metrics[m.name] = m;
  }
  return out;
}

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& p) {
  std::vector<size_t> front;
  for (size_t i = 0; i < p.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < p.size() && !dominated; ++j)
      dominated = p[j].first <= p[i].first && p[j].second <= p[i].second &&
                  (p[j].first < p[i].first || p[j].second < p[i].second);
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  return front;
}

namespace {
// Index of the configuration with the best value of get(c) (smaller is better unless maximize).
template <typename F>
std::optional<size_t> best(const std::vector<Configuration>& cs, F get, bool maximize) {
  std::optional<size_t> best_i;
  double best_v = 0;
  for (size_t i = 0; i < cs.size(); ++i) {
    const std::optional<double> v = get(cs[i]);
    if (!v) continue;
    if (!best_i || (maximize ? *v > best_v : *v < best_v)) {
      best_i = i;
      best_v = *v;
    }
  }
  return best_i;
}

double normalized(double v, double lo, double hi) { return hi > lo ? (v - lo) / (hi - lo) : 0.0; }
}  // namespace

Recommendations recommend(const std::vector<Configuration>& cs) {
  Recommendations r;
  r.fastest = best(cs, [](const Configuration& c) { return c.get(metric::kTgTps); }, true);
  r.smallest = best(cs, [](const Configuration& c) { return c.size_bytes(); }, false);
  for (const auto& c : cs)
    if (c.get(metric::kPpl)) r.quality_metric = metric::kPpl;
  if (r.quality_metric.empty())
    for (const auto& c : cs)
      if (c.get(metric::kKldMean)) r.quality_metric = metric::kKldMean;
  if (r.quality_metric.empty()) return r;
  const std::string q = r.quality_metric;
  r.best_quality = best(cs, [&](const Configuration& c) { return c.get(q); }, false);

  std::vector<size_t> with_quality;
  std::vector<std::pair<double, double>> pts;
  for (size_t i = 0; i < cs.size(); ++i)
    if (cs[i].size_bytes() && cs[i].get(q)) {
      with_quality.push_back(i);
      pts.emplace_back(*cs[i].size_bytes(), *cs[i].get(q));
    }
  for (size_t k : pareto_front(pts)) r.front.push_back(with_quality[k]);

  std::vector<size_t> cand;
  for (size_t i = 0; i < cs.size(); ++i)
    if (cs[i].size_bytes() && cs[i].get(q) && cs[i].get(metric::kTgTps)) cand.push_back(i);
  if (cand.empty()) return r;
  double smin = INFINITY, smax = -INFINITY, tmin = INFINITY, tmax = -INFINITY, qmin = INFINITY, qmax = -INFINITY;
  for (size_t i : cand) {
    const double s = *cs[i].size_bytes(), t = *cs[i].get(metric::kTgTps), v = *cs[i].get(q);
    smin = std::min(smin, s), smax = std::max(smax, s);
    tmin = std::min(tmin, t), tmax = std::max(tmax, t);
    qmin = std::min(qmin, v), qmax = std::max(qmax, v);
  }
  for (size_t i : cand) {
    BalancedScore b;
    b.config = i;
    b.size_n = normalized(*cs[i].size_bytes(), smin, smax);
    b.speed_n = normalized(tmax - *cs[i].get(metric::kTgTps), 0, tmax - tmin);
    b.quality_n = normalized(*cs[i].get(q), qmin, qmax);
    b.score = std::sqrt((b.size_n * b.size_n + b.speed_n * b.speed_n + b.quality_n * b.quality_n) / 3.0);
    r.scores.push_back(b);
  }
  std::stable_sort(r.scores.begin(), r.scores.end(), [](const auto& a, const auto& b) { return a.score < b.score; });
  r.balanced = r.scores.front().config;
  return r;
}

double cost_per_million_tokens(double price_per_hour, double tg_tps) {
  return tg_tps > 0 ? price_per_hour / (3600.0 * tg_tps) * 1e6 : 0.0;
}

}  // namespace qinfer::report
