// How every measuring job's results become stored runs: kind, label, the
// model, this machine and engine, and the numbers under the metric names the
// report reads (store/run_record.h). One place for bench (pp/tg), the serving
// bench, eval and optimize, so that one number is recorded one way.
#pragma once
#include <cstdint>
#include <string>

#include "qinfer/bench/llama_bench.h"
#include "qinfer/bench/serve_bench.h"
#include "qinfer/eval/kld_summary.h"
#include "qinfer/model/model.h"
#include "qinfer/optimize/variant.h"
#include "qinfer/store/run_record.h"

namespace qinfer {

struct OptimizeParams;

// path, architecture, file type (file_type_name), parameters, bits per weight
// (8 · bytes of the weights as loaded / parameters).
ModelInfo model_info(const Model& model);

// kind, label, model, this machine and qinfer's version.
RunRecord new_run_record(const std::string& kind, const std::string& label, const ModelInfo& model);
RunRecord new_run_record(const std::string& kind, const std::string& label, const Model& model);

// pp_tps/tg_tps (and their sample stddev) for a prompt (pp) or generation (tg) test.
void add_throughput_metrics(RunRecord& run, bool prompt_test, double mean_tps, double stddev_tps);
// Model bytes as loaded, KV cache bytes, peak RSS; negative values (unknown) are left out.
void add_memory_metrics(RunRecord& run, int64_t model_bytes, int64_t kv_bytes, int64_t peak_rss_bytes);
// llama-perplexity's KL-divergence summary against a baseline.
void add_kld_metrics(RunRecord& run, const KldSummary& summary);

// `qinfer bench`: one run per pp/tg test.
RunRecord throughput_run(const std::string& label, const Model& model, const ThroughputResult& result, int reps,
                         int n_batch);

// `qinfer bench --concurrency/--endpoint`: one run per concurrency level. With
// no model (an endpoint), `served_model` names it and the machine is the client's.
RunRecord serving_run(const std::string& label, const bench::ServeResult& result, const Model* model,
                      const std::string& served_model, const std::string& endpoint);

// `qinfer optimize`: a variant (kind "optimize", labelled by its type), with
// the optimize parameters and its sample generations in params_json.
RunRecord optimize_run(const VariantResult& variant, const OptimizeParams& params);

}  // namespace qinfer
