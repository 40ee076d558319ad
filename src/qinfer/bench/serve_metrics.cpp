#include "qinfer/bench/serve_metrics.h"

#include <algorithm>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/stats.h"

namespace qinfer::bench {

RequestMetrics request_metrics(const RequestTimeline& r) {
  if (!r.ok) throw Error("request_metrics: a failed request has no metrics");
  if (r.chunk_s.empty()) throw Error("request_metrics: a request without any chunk has no metrics");
  RequestMetrics m;
  m.ttft_s = r.chunk_s.front() - r.send_s;
  m.e2el_s = r.chunk_s.back() - r.send_s;
  for (size_t i = 1; i < r.chunk_s.size(); ++i) m.itl_s.push_back(r.chunk_s[i] - r.chunk_s[i - 1]);
  if (r.output_tokens > 1) {
    m.has_tpot = true;
    m.tpot_s = (m.e2el_s - m.ttft_s) / double(r.output_tokens - 1);
  }
  return m;
}

Distribution describe(const std::vector<double>& v, double scale) {
  Distribution d;
  d.count = v.size();
  if (v.empty()) return d;
  std::vector<double> s(v.size());
  for (size_t i = 0; i < v.size(); ++i) s[i] = v[i] * scale;
  d.mean = mean(s);
  d.std = population_stddev(s);  // np.std: ddof = 0
  std::sort(s.begin(), s.end());
  d.median = percentile_of_sorted(s, 50);
  d.p90 = percentile_of_sorted(s, 90);
  d.p99 = percentile_of_sorted(s, 99);
  return d;
}

ServeSummary summarize(const std::vector<RequestTimeline>& requests, double duration_s) {
  ServeSummary s;
  s.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el;
  for (const RequestTimeline& r : requests) {
    s.reconnects += r.reconnects;
    if (!r.ok || r.chunk_s.empty()) {
      ++s.failed;
      const std::string e = r.ok ? "no output chunk" : r.error;
      if (s.errors.size() < 8 && std::find(s.errors.begin(), s.errors.end(), e) == s.errors.end())
        s.errors.push_back(e);
      continue;
    }
    const RequestMetrics m = request_metrics(r);
    ++s.completed;
    s.total_input_tokens += r.prompt_tokens;
    s.total_output_tokens += r.output_tokens;
    ttft.push_back(m.ttft_s);
    e2el.push_back(m.e2el_s);
    if (m.has_tpot) tpot.push_back(m.tpot_s);
    itl.insert(itl.end(), m.itl_s.begin(), m.itl_s.end());
  }
  if (duration_s > 0) {
    s.request_throughput = s.completed / duration_s;
    s.output_throughput = double(s.total_output_tokens) / duration_s;
    s.total_token_throughput = double(s.total_input_tokens + s.total_output_tokens) / duration_s;
  }
  s.ttft_ms = describe(ttft, 1e3);
  s.tpot_ms = describe(tpot, 1e3);
  s.itl_ms = describe(itl, 1e3);
  s.e2el_ms = describe(e2el, 1e3);
  return s;
}

// Key names as vLLM's result JSON (mean_ttft_ms, p99_itl_ms, ...), so files compare directly.
nlohmann::json ServeSummary::to_json() const {
  nlohmann::json j = {{"completed", completed},
                      {"failed", failed},
                      {"duration", duration_s},
                      {"total_input_tokens", total_input_tokens},
                      {"total_output_tokens", total_output_tokens},
                      {"request_throughput", request_throughput},
                      {"output_throughput", output_throughput},
                      {"total_token_throughput", total_token_throughput},
                      {"errors", errors},
                      {"reconnects", reconnects}};
  const std::pair<const char*, const Distribution*> metrics[] = {
      {"ttft", &ttft_ms}, {"tpot", &tpot_ms}, {"itl", &itl_ms}, {"e2el", &e2el_ms}};
  for (const auto& [name, d] : metrics) {
    const std::string n = name;
    j["mean_" + n + "_ms"] = d->mean;
    j["median_" + n + "_ms"] = d->median;
    j["std_" + n + "_ms"] = d->std;
    j["p90_" + n + "_ms"] = d->p90;
    j["p99_" + n + "_ms"] = d->p99;
  }
  return j;
}

}  // namespace qinfer::bench
