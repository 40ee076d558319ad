// A serving benchmark run: warm-up, then for each concurrency level the same
// load `repetitions` times, summarised with vLLM's metrics. ServeResult is a
// plain record (one per level) with to_json() and a CSV row, for files and
// for the results store.
#pragma once
#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qinfer/bench/load_gen.h"
#include "qinfer/bench/serve_metrics.h"

namespace qinfer::bench {

struct ServeResult;

struct ServeConfig {
  std::vector<int> concurrency;  // one result per level; empty: {0} = unlimited
  int num_requests = 64;
  double request_rate = std::numeric_limits<double>::infinity();
  int warmup = 1;       // requests sent one at a time before measuring, not counted
  int repetitions = 1;  // runs per level, pooled
  uint64_t seed = 0;
  // Called before each level's first request and after its last (the
  // in-process engine reads its KV-cache peaks there).
  std::function<void()> on_level_start;
  std::function<void(ServeResult&)> on_level_end;
};

struct ServeResult {
  // What was measured.
  std::string backend;  // "qinfer" (in-process) or "openai" (HTTP endpoint)
  std::string target;   // model path or endpoint URL
  std::string model;    // model file or served model name
  int concurrency = 0;  // 0: unlimited
  double request_rate = std::numeric_limits<double>::infinity();
  int num_requests = 0;  // per repetition
  int repetitions = 1;
  int input_len = 0;   // synthetic prompts; 0 with a dataset
  int max_tokens = 0;
  std::string dataset;  // "" for the synthetic set
  int threads = 0;      // in-process only
  int slots = 0;        // in-process only

  ServeSummary summary;  // all repetitions' requests pooled, over their summed duration
  std::vector<double> rep_request_throughput, rep_output_throughput;  // one per repetition

  // Memory; -1 where unknown (an endpoint's process is not ours).
  int64_t model_bytes = -1, kv_cache_bytes = -1, peak_rss_bytes = -1;
  // The in-process engine's KV cache over the level: kv_cache_bytes is the
  // peak in use; blocks at that peak, bytes per token (K+V, all layers), the
  // peak of tokens held, and the share of prompt tokens reused from the prefix cache.
  std::string cache_type;  // "f16/f16", "q8_0/q8_0", ...
  int64_t kv_peak_blocks = -1, kv_bytes_per_token = -1, kv_peak_tokens = -1;
  double prefix_hit_rate = -1;

  nlohmann::json to_json() const;
  static std::string csv_header();
  std::string csv_row() const;
};

// Called with a one-line status while requests complete.
using StatusLine = std::function<void(const std::string&)>;

// Runs the warm-up, then each level. Repetition k sends prompts from
// k * num_requests on and the warm-up those after all repetitions' (cycling
// when there are fewer), so give num_requests * repetitions + warmup prompts
// for every request to be distinct. Results carry the config fields above;
// the caller fills the descriptive ones (backend, target, memory...). Throws
// InputError when the first warm-up request fails (the target is unusable).
std::vector<ServeResult> run_serve_bench(BenchTarget& target, const std::vector<BenchPrompt>& prompts,
                                         const ServeConfig& config, const StatusLine& status = {});

// vLLM's "Serving Benchmark Result" block, with P90 and E2E latency added.
void print_summary(std::FILE* out, const ServeResult& r);
// One Markdown row per level, for sweeps.
void print_sweep_table(std::FILE* out, const std::vector<ServeResult>& results);
std::string to_csv(const std::vector<ServeResult>& results);

}  // namespace qinfer::bench
