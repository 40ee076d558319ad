// Serving metrics with `vllm bench serve`'s definitions (benchmarks/
// serve.py calculate_metrics), as pure functions over what the client saw:
// when a request was sent and when each streamed chunk arrived.
//
//   TTFT  = first chunk − send
//   ITL   = gaps between consecutive chunks (one entry per chunk, which may
//           carry several tokens); pooled over all requests for aggregates
//   E2EL  = last chunk − send
//   TPOT  = (E2EL − TTFT) / (output_tokens − 1), only for output_tokens > 1
//
// Aggregates: mean, median, population std (numpy's np.std), p90, p99 with
// numpy's default linear interpolation (core/stats.h); an empty list gives
// zeros, as vLLM's `np.mean(x or 0)`. Throughputs divide by the run's wall-clock duration.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qinfer::bench {

// One request as the client saw it. Times in seconds from any common origin.
struct RequestTimeline {
  double send_s = 0;            // just before the request was sent
  std::vector<double> chunk_s;  // arrival of each chunk with output (non-empty choices)
  int prompt_tokens = 0;
  int output_tokens = 0;  // the server's usage.completion_tokens when sent, else one per chunk
  bool ok = false;        // false: failed (error says why); never counted in the metrics
  std::string error;
  int reconnects = 0;     // sent again on a new connection the server had closed unanswered
};

struct RequestMetrics {
  double ttft_s = 0;
  double e2el_s = 0;
  double tpot_s = 0;
  bool has_tpot = false;  // output_tokens > 1
  std::vector<double> itl_s;
};

// Throws qinfer::Error for a request that is not ok or has no chunk.
RequestMetrics request_metrics(const RequestTimeline& r);

struct Distribution {
  double mean = 0, median = 0, std = 0, p90 = 0, p99 = 0;
  size_t count = 0;
};
// Statistics of v, each value multiplied by `scale` (1000: seconds → ms).
Distribution describe(const std::vector<double>& v, double scale = 1.0);

struct ServeSummary {
  int completed = 0;
  int failed = 0;
  double duration_s = 0;
  int64_t total_input_tokens = 0;
  int64_t total_output_tokens = 0;
  double request_throughput = 0;      // completed / duration
  double output_throughput = 0;       // output tokens / duration
  double total_token_throughput = 0;  // (input + output tokens) / duration
  Distribution ttft_ms, tpot_ms, itl_ms, e2el_ms;
  std::vector<std::string> errors;  // distinct failure messages, first few
  int reconnects = 0;               // requests sent again on a new connection (see RequestTimeline)

  nlohmann::json to_json() const;
};

// Summarises the requests of one run that took duration_s of wall time.
ServeSummary summarize(const std::vector<RequestTimeline>& requests, double duration_s);

}  // namespace qinfer::bench
