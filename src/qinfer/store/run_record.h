// One stored run: what was measured (model file, machine, engine, parameters)
// and the numbers it produced. Producers (bench, eval, optimize) fill a
// RunRecord and hand it to ResultStore::record_run; the report reads them back.
//
// Metrics are (name, value, unit) rows. The report understands the names in
// qinfer::metric below; any other name is stored, listed and exported as is.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/core/machine.h"

namespace qinfer {

// Metric names shared by producers and the report (units in the comments).
namespace metric {
// Throughput, llama-bench definitions.
inline constexpr const char* kPpTps = "pp_tps";        // tok/s, prompt processing
inline constexpr const char* kPpTpsSd = "pp_tps_sd";   // tok/s, sample stddev of the repetitions
inline constexpr const char* kTgTps = "tg_tps";        // tok/s, generation (decode)
inline constexpr const char* kTgTpsSd = "tg_tps_sd";   // tok/s
// Serving (vLLM definitions): one run per concurrency level.
inline constexpr const char* kConcurrency = "concurrency";              // requests in flight
inline constexpr const char* kRequestThroughput = "request_throughput";  // req/s
inline constexpr const char* kOutputThroughput = "output_throughput";    // tok/s
// Latency distributions: "<ttft|tpot|itl|e2el>_ms_<mean|median|p90|p99>", in ms.
std::string latency(const std::string& what, const std::string& stat);
// Memory.
inline constexpr const char* kModelBytes = "model_bytes";      // B, weights as loaded
inline constexpr const char* kKvBytes = "kv_bytes";            // B, the KV cache (serving: peak in use)
inline constexpr const char* kKvBytesPerToken = "kv_bytes_per_token";  // B, K+V of one token, all layers
inline constexpr const char* kKvSavingPct = "kv_saving_pct";   // %, bytes per token saved vs an F16 cache
inline constexpr const char* kKvPeakBlocks = "kv_peak_blocks";  // blocks in use at the peak (serving)
inline constexpr const char* kPrefixHitPct = "prefix_hit_pct";  // %, prompt tokens reused from the prefix cache
inline constexpr const char* kPeakRssBytes = "peak_rss_bytes";  // B
// Quality (llama-perplexity definitions); *_err are the ± it prints.
inline constexpr const char* kPpl = "ppl";
inline constexpr const char* kPplErr = "ppl_err";
inline constexpr const char* kDeltaPpl = "delta_ppl";          // PPL(Q) − PPL(base)
inline constexpr const char* kDeltaPplErr = "delta_ppl_err";
inline constexpr const char* kLnPplRatio = "ln_ppl_ratio";     // mean ln(PPL(Q)/PPL(base))
inline constexpr const char* kLnPplRatioErr = "ln_ppl_ratio_err";
inline constexpr const char* kKldMean = "kld_mean";
inline constexpr const char* kKldMeanErr = "kld_mean_err";
inline constexpr const char* kKldMedian = "kld_median";
inline constexpr const char* kKldP99 = "kld_p99";
inline constexpr const char* kKldMax = "kld_max";
inline constexpr const char* kSameTopPct = "same_top_pct";      // %
inline constexpr const char* kSameTopPctErr = "same_top_pct_err";
inline constexpr const char* kHellaswagAcc = "hellaswag_acc";    // %
inline constexpr const char* kHellaswagAccErr = "hellaswag_acc_err";
inline constexpr const char* kHellaswagTasks = "hellaswag_tasks";
}  // namespace metric

struct Metric {
  std::string name;
  double value = 0;
  std::string unit;  // "tok/s", "ms", "B", "%", "" for dimensionless
};

struct ModelInfo {
  std::string path;
  std::string sha256;        // hex; filled by record_run from `path` when empty and the file exists
  std::string type;          // architecture: "llama", "qwen2"
  std::string file_type;     // "Q4_0", "Q4_K_M", "F32", ...
  int64_t size_bytes = 0;    // the file; filled by record_run when 0 and the file exists
  int64_t n_params = 0;
  double bits_per_weight = 0;
};

struct RunRecord {
  int64_t id = 0;            // assigned by record_run
  std::string time;          // ISO 8601 UTC; record_run sets it when empty
  std::string kind;          // "bench", "eval" or "optimize"
  std::string label;         // the configuration this run measures ("Q4_K_M"); the report
                             // merges the metrics of runs with the same label
  ModelInfo model;
  MachineInfo machine;
  std::string engine = "qinfer";  // or the endpoint's server ("llama.cpp", "vllm", ...)
  std::string engine_version;
  std::string params_json = "{}";  // the run's parameters as a JSON object
  std::string device = "cpu";      // where the engine ran (--device, resolved)
  std::string device_reason;       // why: "asked for (--device cpu)", "auto: ..."
  std::vector<Metric> metrics;

  void add(const std::string& name, double value, const std::string& unit = "");
  std::optional<double> find(const std::string& name) const;
};

// Kinds record_run accepts.
bool valid_run_kind(const std::string& kind);

}  // namespace qinfer
