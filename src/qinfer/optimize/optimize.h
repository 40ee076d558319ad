// The main job: quantize a model into each requested type, measure every file
// (and the unquantized baseline) the same way, and collect one comparison.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "qinfer/optimize/variant.h"
#include "qinfer/store/run_record.h"

namespace qinfer {

struct OptimizeParams {
  std::string model_path;            // F32/F16/BF16 GGUF: the baseline
  std::vector<std::string> types;    // quantize targets, llama-quantize names ("Q4_K_M", ...)
  std::string eval_text;             // perplexity / KL-divergence text
  std::string out_dir;               // models/, baseline logits, report
  int threads = 0;                   // 0: physical cores
  int n_prompt = 512, n_gen = 128, reps = 3;
  int n_ctx = 128, n_chunks = 100;
  std::vector<std::string> sample_prompts;  // greedy continuations shown side by side
  int sample_tokens = 48;
};

// Default quantization matrix when --types is not given.
std::vector<std::string> default_optimize_types();
// Prompts for the side-by-side generations when none are given.
std::vector<std::string> default_sample_prompts();

// Runs the whole matrix; on_stage(i, n, label) reports progress. Variants
// come back baseline first, in the order of params.types.
std::vector<VariantResult> run_optimize(const OptimizeParams& params,
                                        const std::function<void(int, int, const std::string&)>& on_stage = {});

// A variant as a results-store run (kind "optimize", labelled by its type),
// with the optimize parameters and its sample generations in params_json.
RunRecord to_run_record(const VariantResult& variant, const OptimizeParams& params);

}  // namespace qinfer
