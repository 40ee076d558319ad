#include "qinfer/optimize/run_records.h"

#include <nlohmann/json.hpp>

#include "qinfer/core/version.h"
#include "qinfer/eval/samples.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/optimize/optimize.h"

namespace qinfer {

ModelInfo model_info(const Model& model) {
  ModelInfo m;
  m.path = model.path;
  m.type = model.config.arch;
  m.file_type = file_type_name(model);
  m.n_params = model.n_params();
  if (m.n_params > 0) m.bits_per_weight = 8.0 * double(model.weight_bytes()) / double(m.n_params);
  return m;
}

RunRecord new_run_record(const std::string& kind, const std::string& label, const ModelInfo& model) {
  RunRecord run;
  run.kind = kind;
  run.label = label;
  run.model = model;
  run.machine = detect_machine();
  run.engine_version = kVersion;
  return run;
}

RunRecord new_run_record(const std::string& kind, const std::string& label, const Model& model) {
  return new_run_record(kind, label, model_info(model));
}

void add_throughput_metrics(RunRecord& run, bool prompt_test, double mean_tps, double stddev_tps) {
  run.add(prompt_test ? metric::kPpTps : metric::kTgTps, mean_tps, "tok/s");
  run.add(prompt_test ? metric::kPpTpsSd : metric::kTgTpsSd, stddev_tps, "tok/s");
}

void add_memory_metrics(RunRecord& run, int64_t model_bytes, int64_t kv_bytes, int64_t peak_rss_bytes) {
  if (model_bytes >= 0) run.add(metric::kModelBytes, double(model_bytes), "B");
  if (kv_bytes >= 0) run.add(metric::kKvBytes, double(kv_bytes), "B");
  if (peak_rss_bytes >= 0) run.add(metric::kPeakRssBytes, double(peak_rss_bytes), "B");
}

void add_kld_metrics(RunRecord& run, const KldSummary& s) {
  run.add(metric::kPpl, s.ppl.value);
  run.add(metric::kPplErr, s.ppl.err);
  // ΔPPL against the base's measured perplexity where its logits file has it;
  // else llama-perplexity's, from the floored log-probs in the file.
  const ValueErr& base = s.has_measured_base ? s.measured_ppl_base : s.ppl_base;
  const ValueErr& diff = s.has_measured_base ? s.measured_ppl_diff : s.ppl_diff;
  run.add("ppl_base", base.value);
  run.add("ppl_base_from_logits", s.ppl_base.value);
  run.add(metric::kDeltaPpl, diff.value);
  run.add(metric::kDeltaPplErr, diff.err);
  run.add(metric::kLnPplRatio, s.ln_ppl_ratio.value);
  run.add(metric::kLnPplRatioErr, s.ln_ppl_ratio.err);
  run.add(metric::kKldMean, s.kld_mean.value);
  run.add(metric::kKldMeanErr, s.kld_mean.err);
  run.add(metric::kKldMedian, s.kld_median);
  run.add(metric::kKldP99, s.kld_p99);
  run.add(metric::kKldMax, s.kld_max);
  run.add(metric::kSameTopPct, 100 * s.same_top.value, "%");
  run.add(metric::kSameTopPctErr, 100 * s.same_top.err, "%");
}

RunRecord throughput_run(const std::string& label, const Model& model, const ThroughputResult& r, int reps,
                         int n_batch) {
  RunRecord run = new_run_record("bench", label, model);
  add_throughput_metrics(run, r.test.n_prompt > 0, r.mean(), r.stddev());
  add_memory_metrics(run, int64_t(model.weight_bytes()), -1, r.peak_rss_bytes);
  const char* isa = kernels::isa_name(kernels::active_isa());
  run.params_json = nlohmann::json{{"test", r.test.name}, {"threads", r.threads}, {"repetitions", reps},
                                   {"n_batch", n_batch}, {"isa", isa}}
                        .dump();
  return run;
}

RunRecord serving_run(const std::string& label, const bench::ServeResult& r, const Model* model,
                      const std::string& served_model, const std::string& endpoint) {
  RunRecord run;
  if (model) {
    run = new_run_record("bench", label, *model);
  } else {
    ModelInfo served;
    served.path = served_model;  // the served model's name; no file to hash
    run = new_run_record("bench", label, served);
    run.engine = "openai-compatible endpoint";  // the machine is the client's
    run.engine_version.clear();
  }
  const bench::ServeSummary& s = r.summary;
  run.add(metric::kConcurrency, r.concurrency);
  run.add(metric::kRequestThroughput, s.request_throughput, "req/s");
  run.add(metric::kOutputThroughput, s.output_throughput, "tok/s");
  const std::pair<const char*, const bench::Distribution*> dists[] = {
      {"ttft", &s.ttft_ms}, {"tpot", &s.tpot_ms}, {"itl", &s.itl_ms}, {"e2el", &s.e2el_ms}};
  for (const auto& [what, d] : dists) {
    if (d->count == 0) continue;
    run.add(metric::latency(what, "mean"), d->mean, "ms");
    run.add(metric::latency(what, "median"), d->median, "ms");
    run.add(metric::latency(what, "p90"), d->p90, "ms");
    run.add(metric::latency(what, "p99"), d->p99, "ms");
  }
  add_memory_metrics(run, r.model_bytes, r.kv_cache_bytes, r.peak_rss_bytes);
  if (r.kv_peak_blocks >= 0) run.add(metric::kKvPeakBlocks, double(r.kv_peak_blocks));
  if (r.kv_bytes_per_token >= 0) run.add(metric::kKvBytesPerToken, double(r.kv_bytes_per_token), "B");
  if (r.prefix_hit_rate >= 0) run.add(metric::kPrefixHitPct, 100 * r.prefix_hit_rate, "%");
  // The configuration; the numbers are the metrics.
  const nlohmann::json all = r.to_json();
  nlohmann::json params = nlohmann::json::object();
  for (const char* key : {"backend", "target", "concurrency", "request_rate", "num_requests", "repetitions",
                          "input_len", "max_tokens", "dataset", "threads", "slots", "completed", "failed",
                          "cache_type"})
    if (all.contains(key)) params[key] = all[key];
  if (!endpoint.empty()) params["endpoint"] = endpoint;
  run.params_json = params.dump();
  return run;
}

RunRecord optimize_run(const VariantResult& v, const OptimizeParams& p) {
  ModelInfo m;
  m.path = v.path;
  m.type = v.arch;
  m.file_type = v.file_type;
  m.size_bytes = v.file_bytes;
  m.n_params = v.n_params;
  m.bits_per_weight = v.bits_per_weight;
  RunRecord run = new_run_record("optimize", v.label, m);
  run.device = p.device;
  run.device_reason = p.device_reason;
  add_throughput_metrics(run, true, v.pp_tps, v.pp_tps_sd);
  add_throughput_metrics(run, false, v.tg_tps, v.tg_tps_sd);
  add_memory_metrics(run, v.model_bytes, v.kv_bytes, v.peak_rss_bytes);
  run.add(metric::kPpl, v.ppl);
  run.add(metric::kPplErr, v.ppl_err);
  if (!v.baseline) {
    // Against itself the baseline has no KL-divergence to speak of.
    run.add(metric::kDeltaPpl, v.delta_ppl);
    run.add(metric::kKldMean, v.kld_mean);
    run.add(metric::kKldMeanErr, v.kld_mean_err);
    run.add(metric::kKldP99, v.kld_p99);
    run.add(metric::kSameTopPct, v.same_top_pct, "%");
    run.add(metric::kSameTopPctErr, v.same_top_pct_err, "%");
  }
  if (v.quantize_seconds > 0) run.add("quantize_seconds", v.quantize_seconds, "s");
  run.params_json = nlohmann::json{{"source_model", p.model_path},
                                   {"baseline", v.baseline},
                                   {"eval_text", p.eval_text},
                                   {"n_ctx", p.n_ctx},
                                   {"chunks", p.n_chunks},
                                   {"threads", v.threads},
                                   {"pp_test", v.pp_test},
                                   {"tg_test", v.tg_test},
                                   {"repetitions", p.reps},
                                   {"samples", samples_json(p.sample_prompts, v.samples)}}
                        .dump();
  return run;
}

}  // namespace qinfer
