#include "qinfer/runtime/generate.h"

#include <chrono>

#include "qinfer/core/error.h"

namespace qinfer {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GenerateStats generate(Context& ctx, const std::vector<int32_t>& prompt, const GenerateParams& params,
                       const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) throw InputError("empty prompt");
  const Model& m = ctx.model();
  GenerateStats st;
  st.n_prompt = int(prompt.size());
  Sampler sampler(params.sampling, m.config.n_vocab);
  for (int32_t t : prompt) sampler.accept(t);

  auto t0 = std::chrono::steady_clock::now();
  ctx.eval(prompt.data(), int(prompt.size()), false);
  st.prompt_ms = ms_since(t0);
  int last = int(prompt.size()) - 1;
  auto t1 = std::chrono::steady_clock::now();
  while (params.n_predict < 0 || st.n_generated < params.n_predict) {
    const int32_t tok = sampler.sample(ctx.logits(last));
    if (m.tokenizer->is_eog(tok)) {
      st.stopped_at_eog = true;
      break;
    }
    sampler.accept(tok);
    ++st.n_generated;
    if (!on_token(tok)) break;
    if (params.n_predict >= 0 && st.n_generated >= params.n_predict) break;
    if (ctx.n_past() >= ctx.n_ctx()) break;  // context full
    ctx.eval(&tok, 1, false);
    last = 0;
  }
  st.generate_ms = ms_since(t1);
  return st;
}

}  // namespace qinfer
