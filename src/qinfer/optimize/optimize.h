// The main job: quantize a model into each requested type, measure every file
// (and the unquantized baseline) the same way, and collect one comparison;
// then record every variant in the results store and write the report.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "qinfer/optimize/variant.h"
#include "qinfer/quantize/calibrated.h"
#include "qinfer/report/report.h"
#include "qinfer/store/results_store.h"

namespace qinfer {

struct OptimizeParams {
  std::string model_path;            // F32/F16/BF16 GGUF: the baseline
  std::vector<std::string> types;    // quantize targets: VariantSpec entries ("Q4_K_M", "Q4_0+gptq", ...)
  // Perplexity / KL-divergence text. When a variant is calibrated, its first
  // part (calibration.h's split) is the calibration text and every variant is
  // measured on the rest only (written to out_dir/heldout.txt).
  std::string eval_text;
  CalibrationParams calib;           // windows of the calibrated variants (calib.file: another calibration text)
  std::string out_dir;               // models/, baseline logits, results.json, report/
  int threads = 0;                   // resolve_thread_count
  int n_prompt = 512, n_gen = 128, reps = 3;
  int n_ctx = 128, n_chunks = 100;
  std::vector<std::string> sample_prompts;  // greedy continuations shown side by side
  int sample_tokens = 48;
  double price_per_hour = 0;         // for the report's cost per 1M tokens; 0: none
  std::string device = "cpu";        // recorded with each run: where it ran (--device, resolved)
  std::string device_reason;         // and why
};

// One entry of --types: a file type, optionally calibrated ("Q4_0+gptq",
// "Q4_K_M+awq"); NF4, FP4, INT4, INT8 and their _DQ forms are file types.
struct VariantSpec {
  std::string type;              // llama-quantize's name, as parse_file_type spells it
  QuantMethod method = QuantMethod::Rtn;
  std::string label() const;     // "Q4_0", "Q4_0+gptq"
};
// InputError naming the entry for an unknown type or method, or a method the type cannot take.
VariantSpec parse_variant_spec(const std::string& entry);

// Default quantization matrix when --types is not given.
std::vector<std::string> default_optimize_types();
// Prompts for the side-by-side generations when none are given.
std::vector<std::string> default_sample_prompts();

using OptimizeProgress = std::function<void(int stage, int n_stages, const std::string& label)>;

// Runs the whole matrix; variants come back baseline first, in the order of
// params.types. On failure nothing of this run is left in out_dir: the models
// it wrote, the baseline logits, and the directories it created are removed.
std::vector<VariantResult> run_optimize(const OptimizeParams& params, const OptimizeProgress& on_stage = {});

struct OptimizeOutputs {
  std::vector<VariantResult> variants;
  std::string results_json;    // out_dir/results.json
  std::vector<RunRecord> runs;  // as stored (ids, hashes, times); numbered 1.. without a store
  report::ReportFiles report;   // out_dir/report/
};

// run_optimize, then results.json, one stored run per variant (store may be
// null) and the report.
OptimizeOutputs run_optimize_job(const OptimizeParams& params, ResultStore* store,
                                 const OptimizeProgress& on_stage = {});

}  // namespace qinfer
