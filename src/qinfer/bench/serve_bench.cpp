#include "qinfer/bench/serve_bench.h"

#include <cmath>
#include <sstream>

#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/core/stats.h"

namespace qinfer::bench {

namespace {

std::string rate_str(double rate) {
  if (std::isinf(rate)) return "inf";
  std::ostringstream s;
  s << rate;
  return s.str();
}

}  // namespace

nlohmann::json ServeResult::to_json() const {
  nlohmann::json j = {{"backend", backend},
                      {"target", target},
                      {"model", model},
                      {"concurrency", concurrency},
                      {"request_rate", rate_str(request_rate)},
                      {"num_requests", num_requests},
                      {"repetitions", repetitions},
                      {"input_len", input_len},
                      {"max_tokens", max_tokens},
                      {"dataset", dataset},
                      {"threads", threads},
                      {"slots", slots},
                      {"rep_request_throughput", rep_request_throughput},
                      {"rep_output_throughput", rep_output_throughput},
                      {"model_bytes", model_bytes},
                      {"kv_cache_bytes", kv_cache_bytes},
                      {"peak_rss_bytes", peak_rss_bytes},
                      {"cache_type", cache_type},
                      {"kv_peak_blocks", kv_peak_blocks},
                      {"kv_bytes_per_token", kv_bytes_per_token},
                      {"kv_peak_tokens", kv_peak_tokens},
                      {"prefix_hit_rate", prefix_hit_rate}};
  j.update(summary.to_json());
  return j;
}

std::string ServeResult::csv_header() {
  std::string h =
      "backend,target,model,concurrency,request_rate,num_requests,repetitions,input_len,max_tokens,dataset,threads,"
      "slots,completed,failed,duration,total_input_tokens,total_output_tokens,request_throughput,output_throughput,"
      "total_token_throughput";
  for (const char* m : {"ttft", "tpot", "itl", "e2el"})
    for (const char* s : {"mean", "median", "std", "p90", "p99"}) h += std::string(",") + s + "_" + m + "_ms";
  return h + ",model_bytes,kv_cache_bytes,peak_rss_bytes,cache_type,kv_peak_blocks,kv_bytes_per_token,kv_peak_tokens,"
             "prefix_hit_rate";
}

std::string ServeResult::csv_row() const {
  std::ostringstream s;
  s.precision(10);
  const ServeSummary& m = summary;
  s << csv_field(backend) << ',' << csv_field(target) << ',' << csv_field(model) << ',' << concurrency << ','
    << rate_str(request_rate) << ',' << num_requests << ',' << repetitions << ',' << input_len << ',' << max_tokens
    << ',' << csv_field(dataset) << ',' << threads << ',' << slots << ',' << m.completed << ',' << m.failed << ','
    << m.duration_s << ',' << m.total_input_tokens << ',' << m.total_output_tokens << ',' << m.request_throughput
    << ',' << m.output_throughput << ',' << m.total_token_throughput;
  for (const Distribution* d : {&m.ttft_ms, &m.tpot_ms, &m.itl_ms, &m.e2el_ms})
    s << ',' << d->mean << ',' << d->median << ',' << d->std << ',' << d->p90 << ',' << d->p99;
  s << ',' << model_bytes << ',' << kv_cache_bytes << ',' << peak_rss_bytes << ',' << csv_field(cache_type) << ','
    << kv_peak_blocks << ',' << kv_bytes_per_token << ',' << kv_peak_tokens << ',' << prefix_hit_rate;
  return s.str();
}

std::string to_csv(const std::vector<ServeResult>& results) {
  std::string out = ServeResult::csv_header() + "\n";
  for (const ServeResult& r : results) out += r.csv_row() + "\n";
  return out;
}

std::vector<ServeResult> run_serve_bench(BenchTarget& target, const std::vector<BenchPrompt>& prompts,
                                         const ServeConfig& cfg, const StatusLine& status) {
  if (cfg.repetitions < 1) throw InputError("--repetitions must be at least 1");
  if (cfg.warmup < 0) throw InputError("--warmup must be 0 or more");
  if (prompts.empty()) throw InputError("no prompts to send");
  // Warm-up: one at a time, not counted. The first one doubles as vLLM's
  // initial test request: when it fails, the target is not usable at all.
  // Warm-up prompts come after the measured ones so that a server's prefix
  // cache does not favour the first measured requests.
  const size_t measured = size_t(cfg.num_requests) * size_t(cfg.repetitions);
  if (cfg.warmup > 0) {
    target.prepare(1);
    for (int i = 0; i < cfg.warmup; ++i) {
      if (status) status("warm-up " + std::to_string(i + 1) + "/" + std::to_string(cfg.warmup));
      const RequestTimeline r = target.run(prompts[(measured + size_t(i)) % prompts.size()], 0);
      if (!r.ok && i == 0) throw InputError(target.describe() + ": warm-up request failed: " + r.error);
    }
  }
  std::vector<int> levels = cfg.concurrency.empty() ? std::vector<int>{0} : cfg.concurrency;
  std::vector<ServeResult> results;
  for (int level : levels) {
    if (level < 0) throw InputError("--concurrency levels must be at least 1");
    ServeResult res;
    res.concurrency = level;
    res.request_rate = cfg.request_rate;
    res.num_requests = cfg.num_requests;
    res.repetitions = cfg.repetitions;
    std::vector<RequestTimeline> pooled;
    double total_duration = 0;
    if (cfg.on_level_start) cfg.on_level_start();
    for (int rep = 0; rep < cfg.repetitions; ++rep) {
      LoadOptions lo;
      lo.num_requests = cfg.num_requests;
      lo.concurrency = level;
      lo.request_rate = cfg.request_rate;
      lo.seed = cfg.seed + uint64_t(rep);
      lo.prompt_offset = size_t(rep) * size_t(cfg.num_requests);
      const std::string head = "concurrency " + (level > 0 ? std::to_string(level) : std::string("inf")) +
                               ", rate " + rate_str(cfg.request_rate) +
                               (cfg.repetitions > 1 ? ", rep " + std::to_string(rep + 1) + "/" +
                                                          std::to_string(cfg.repetitions)
                                                    : std::string()) + ": ";
      const double t0 = now_s();
      LoadRun run = run_load(target, prompts, lo, [&](int done, int failed, int total) {
        if (!status) return;
        char tail[96];
        std::snprintf(tail, sizeof tail, "%d/%d requests, %d failed, %.1f s", done, total, failed, now_s() - t0);
        status(head + tail);
      });
      const ServeSummary one = summarize(run.requests, run.duration_s);
      res.rep_request_throughput.push_back(one.request_throughput);
      res.rep_output_throughput.push_back(one.output_throughput);
      total_duration += run.duration_s;
      for (RequestTimeline& r : run.requests) pooled.push_back(std::move(r));
    }
    res.summary = summarize(pooled, total_duration);
    if (cfg.on_level_end) cfg.on_level_end(res);
    results.push_back(std::move(res));
  }
  return results;
}

void print_summary(std::FILE* out, const ServeResult& r) {
  const ServeSummary& m = r.summary;
  auto title = [&](const char* s, char fill) {
    const std::string t = s;
    const size_t left = (50 - t.size()) / 2, right = 50 - t.size() - left;
    std::fprintf(out, "%s%s%s\n", std::string(left, fill).c_str(), t.c_str(), std::string(right, fill).c_str());
  };
  auto row_i = [&](const char* k, int64_t v) { std::fprintf(out, "%-40s %-10lld\n", k, static_cast<long long>(v)); };
  auto row_f = [&](const char* k, double v) { std::fprintf(out, "%-40s %-10.2f\n", k, v); };
  auto section = [&](const char* head, const char* name, const Distribution& d) {
    title(head, '-');
    const std::string n = name;
    row_f(("Mean " + n + " (ms):").c_str(), d.mean);
    row_f(("Median " + n + " (ms):").c_str(), d.median);
    row_f(("P90 " + n + " (ms):").c_str(), d.p90);
    row_f(("P99 " + n + " (ms):").c_str(), d.p99);
  };
  title(" Serving Benchmark Result ", '=');
  std::fprintf(out, "%-40s %-10s\n", "Target:", r.target.c_str());
  std::fprintf(out, "%-40s %-10s\n", "Maximum request concurrency:",
               r.concurrency > 0 ? std::to_string(r.concurrency).c_str() : "inf");
  std::fprintf(out, "%-40s %-10s\n", "Request rate configured (RPS):", rate_str(r.request_rate).c_str());
  row_i("Successful requests:", m.completed);
  row_i("Failed requests:", m.failed);
  if (m.reconnects > 0) row_i("Re-sent on a new connection:", m.reconnects);
  row_f("Benchmark duration (s):", m.duration_s);
  row_i("Total input tokens:", m.total_input_tokens);
  row_i("Total generated tokens:", m.total_output_tokens);
  row_f("Request throughput (req/s):", m.request_throughput);
  row_f("Output token throughput (tok/s):", m.output_throughput);
  row_f("Total Token throughput (tok/s):", m.total_token_throughput);
  section("Time to First Token", "TTFT", m.ttft_ms);
  section("Time per Output Token (excl. 1st token)", "TPOT", m.tpot_ms);
  section("Inter-token Latency", "ITL", m.itl_ms);
  section("End-to-end Latency", "E2EL", m.e2el_ms);
  if (r.model_bytes >= 0 || r.peak_rss_bytes >= 0) {
    title("Memory", '-');
    const double mib = 1024.0 * 1024.0;
    if (r.model_bytes >= 0) row_f("Model (MiB):", double(r.model_bytes) / mib);
    if (r.kv_cache_bytes >= 0) row_f("KV cache, peak in use (MiB):", double(r.kv_cache_bytes) / mib);
    if (r.kv_peak_blocks >= 0) row_i("KV blocks at the peak:", r.kv_peak_blocks);
    if (r.kv_peak_tokens >= 0) row_i("KV tokens held at the peak:", r.kv_peak_tokens);
    if (r.kv_bytes_per_token >= 0)
      std::fprintf(out, "%-40s %-10s\n", "KV bytes per token:",
                   (std::to_string(r.kv_bytes_per_token) + " (" + r.cache_type + ")").c_str());
    if (r.prefix_hit_rate >= 0) row_f("Prefix cache hit rate (%):", 100 * r.prefix_hit_rate);
    if (r.peak_rss_bytes >= 0) row_f("Peak RSS (MiB):", double(r.peak_rss_bytes) / mib);
  }
  for (const std::string& e : m.errors) std::fprintf(out, "failed: %s\n", e.c_str());
  title("", '=');
}

void print_sweep_table(std::FILE* out, const std::vector<ServeResult>& results) {
  std::fprintf(out,
               "| concurrency | ok | failed | req/s | out tok/s | TTFT mean | TTFT p99 | TPOT mean | ITL p99 | "
               "E2EL mean |\n");
  std::fprintf(out, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const ServeResult& r : results) {
    const ServeSummary& m = r.summary;
    const std::string c = r.concurrency > 0 ? std::to_string(r.concurrency) : "inf";
    char buf[64];
    if (r.rep_output_throughput.size() > 1)
      std::snprintf(buf, sizeof buf, "%.2f ± %.2f", mean(r.rep_output_throughput),
                    sample_stddev(r.rep_output_throughput));  // ± over repetitions, as llama-bench
    else
      std::snprintf(buf, sizeof buf, "%.2f", m.output_throughput);
    std::fprintf(out, "| %s | %d | %d | %.2f | %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", c.c_str(), m.completed,
                 m.failed, m.request_throughput, buf, m.ttft_ms.mean, m.ttft_ms.p99, m.tpot_ms.mean, m.itl_ms.p99,
                 m.e2el_ms.mean);
  }
}

}  // namespace qinfer::bench
