// One row of the optimize comparison: a model file (the baseline or one
// quantization of it) with what it costs and what it loses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace qinfer {

struct VariantResult {
  std::string label;          // "F32 (baseline)", "Q4_K_M", ...
  std::string path;           // the GGUF measured
  bool baseline = false;
  std::string arch;            // "llama", "qwen2"
  std::string file_type;       // "F32", "Q4_K_M", ...
  int64_t file_bytes = 0;
  int64_t n_params = 0;
  double bits_per_weight = 0;  // 8 · bytes of all weights / parameters
  double quantize_seconds = 0;
  // Throughput (llama-bench definitions), mean and sample stddev of the repetitions.
  std::string pp_test, tg_test;  // "pp512", "tg128"
  int threads = 0;
  double pp_tps = 0, pp_tps_sd = 0;
  double tg_tps = 0, tg_tps_sd = 0;
  // Memory: weights as loaded, the KV cache of the bench context, peak RSS of the
  // process that ran the benchmark (a fresh process per variant).
  int64_t model_bytes = 0, kv_bytes = 0, peak_rss_bytes = 0;
  // Quality on the evaluation text, against the baseline's logits.
  double ppl = 0, ppl_err = 0;
  double delta_ppl = 0;        // ppl − baseline ppl
  double kld_mean = 0, kld_mean_err = 0, kld_p99 = 0;
  double same_top_pct = 0, same_top_pct_err = 0;
  // Greedy continuations of the sample prompts, in their order: the same
  // prompts for every variant, so that a person can read them side by side.
  std::vector<std::string> samples;
};

void to_json(nlohmann::json& j, const VariantResult& r);
void from_json(const nlohmann::json& j, VariantResult& r);

}  // namespace qinfer
