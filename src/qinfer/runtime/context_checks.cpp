#include "qinfer/runtime/context_checks.h"

#include <cmath>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/core/warn.h"

namespace qinfer {

namespace {

// Integer OR-reduction so the compiler vectorizes it; true when some value is NaN or ±Inf.
bool any_non_finite(const float* v, size_t n) {
  bool bad = false;
  for (size_t i = 0; i < n; ++i) bad |= !(std::fabs(v[i]) <= 3.402823466e+38f);
  return bad;
}

}  // namespace

void warn_context_beyond_training(int n_ctx, int n_ctx_train) {
  warn("a context of " + std::to_string(n_ctx) + " tokens is longer than the " + std::to_string(n_ctx_train) +
       " the model was trained on; quality may drop past " + std::to_string(n_ctx_train));
}

std::string find_non_finite_weight(const Model& model) {
  std::vector<float> row;
  for (const Tensor& t : model.tensors) {
    if (!t.data || t.ne[0] <= 0) continue;
    const TypeInfo& ti = type_info(t.type);
    row.resize(size_t(t.ne[0]));
    for (int64_t r = 0; r < t.rows(); ++r) {
      ti.to_float(t.row(r), row.data(), t.ne[0]);
      if (!any_non_finite(row.data(), row.size())) continue;
      for (int64_t c = 0; c < t.ne[0]; ++c) {
        const float x = row[size_t(c)];
        if (std::isfinite(x)) continue;
        return "tensor " + t.name + " holds " + (std::isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf") + " (row " +
               std::to_string(r) + ", column " + std::to_string(c) + ")";
      }
    }
  }
  return {};
}

void check_logits_finite(const Model& model, const float* logits, int n_rows) {
  const size_t n_vocab = size_t(model.config.n_vocab);
  if (!any_non_finite(logits, size_t(n_rows) * n_vocab)) return;
  const std::string weight = find_non_finite_weight(model);
  throw InputError(model.path + ": the model computes NaN/Inf logits: " +
                   (weight.empty() ? "every weight is finite, so the forward pass overflowed "
                                     "(activations beyond the float or F16 range)"
                                   : weight));
}

}  // namespace qinfer
