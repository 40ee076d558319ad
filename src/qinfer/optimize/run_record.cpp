// VariantResult → RunRecord: the optimize table's numbers under the metric
// names the report understands.
#include <nlohmann/json.hpp>

#include "qinfer/core/version.h"
#include "qinfer/eval/samples.h"
#include "qinfer/optimize/optimize.h"

namespace qinfer {

RunRecord to_run_record(const VariantResult& v, const OptimizeParams& p) {
  RunRecord run;
  run.kind = "optimize";
  run.label = v.label;
  run.model.path = v.path;
  run.model.type = v.arch;
  run.model.file_type = v.file_type;
  run.model.size_bytes = v.file_bytes;
  run.model.n_params = v.n_params;
  run.model.bits_per_weight = v.bits_per_weight;
  run.machine = detect_machine();
  run.engine_version = kVersion;

  run.add(metric::kPpTps, v.pp_tps, "tok/s");
  run.add(metric::kPpTpsSd, v.pp_tps_sd, "tok/s");
  run.add(metric::kTgTps, v.tg_tps, "tok/s");
  run.add(metric::kTgTpsSd, v.tg_tps_sd, "tok/s");
  run.add(metric::kModelBytes, double(v.model_bytes), "B");
  run.add(metric::kKvBytes, double(v.kv_bytes), "B");
  run.add(metric::kPeakRssBytes, double(v.peak_rss_bytes), "B");
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
