#include "qinfer/optimize/variant.h"

#include <nlohmann/json.hpp>

namespace qinfer {

// One list of fields so the two directions cannot drift apart.
#define QINFER_VARIANT_FIELDS(X)                                                                        \
  X(label) X(path) X(baseline) X(arch) X(file_type) X(file_bytes) X(n_params) X(bits_per_weight) X(quantize_seconds)         \
  X(pp_test) X(tg_test) X(threads) X(pp_tps) X(pp_tps_sd) X(tg_tps) X(tg_tps_sd) X(model_bytes)         \
  X(kv_bytes) X(peak_rss_bytes) X(ppl) X(ppl_err) X(delta_ppl) X(kld_mean) X(kld_mean_err) X(kld_p99)   \
  X(same_top_pct) X(same_top_pct_err) X(samples)

void to_json(nlohmann::json& j, const VariantResult& r) {
  j = nlohmann::json::object();
#define X(f) j[#f] = r.f;
  QINFER_VARIANT_FIELDS(X)
#undef X
}

void from_json(const nlohmann::json& j, VariantResult& r) {
#define X(f) j.at(#f).get_to(r.f);
  QINFER_VARIANT_FIELDS(X)
#undef X
}

}  // namespace qinfer
