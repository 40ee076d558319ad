#include "qinfer/bench/llama_bench.h"

#include <chrono>
#include <cmath>
#include <random>

#include "qinfer/core/error.h"
#include "qinfer/core/peak_rss.h"
#include "qinfer/core/stats.h"
#include "qinfer/runtime/context.h"

namespace qinfer {

double ThroughputResult::mean() const { return qinfer::mean(samples_tps); }

double ThroughputResult::stddev() const { return sample_stddev(samples_tps); }

std::string throughput_test_name(int n_prompt, int n_gen, int n_depth) {
  std::string name = n_prompt > 0 ? "pp" + std::to_string(n_prompt) : "tg" + std::to_string(n_gen);
  if (n_depth > 0) name += " @ d" + std::to_string(n_depth);
  return name;
}

namespace {

std::vector<int32_t> random_prompt(const Model& m, int n, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> any_token(0, m.config.n_vocab - 1);
  const int32_t bos = m.tokenizer->bos();
  std::vector<int32_t> prompt(static_cast<size_t>(n));
  for (auto& tok : prompt) tok = any_token(rng);
  if (bos >= 0 && m.tokenizer->vocab().add_bos) prompt[0] = bos;
  return prompt;
}

// One repetition; returns tokens per second. The depth is filled once and
// kept: later repetitions cut the cache back to it.
double run_once(Context& ctx, const ThroughputTest& t, std::mt19937& rng) {
  const Model& m = ctx.model();
  std::uniform_int_distribution<int32_t> any_token(0, m.config.n_vocab - 1);
  const int32_t bos = m.tokenizer->bos();
  if (t.n_depth > 0 && ctx.n_past() >= t.n_depth) {
    ctx.truncate(t.n_depth);
  } else {
    ctx.reset();
    if (t.n_depth > 0) {
      const std::vector<int32_t> fill = random_prompt(m, t.n_depth, rng);
      ctx.eval(fill.data(), t.n_depth, false);
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (t.n_prompt > 0) {
    const std::vector<int32_t> prompt = random_prompt(m, t.n_prompt, rng);
    ctx.eval(prompt.data(), t.n_prompt, false);
  } else {
    int32_t tok = bos >= 0 ? bos : any_token(rng);
    for (int i = 0; i < t.n_gen; ++i) {
      ctx.eval(&tok, 1, false);
      tok = any_token(rng);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return double(t.n_prompt > 0 ? t.n_prompt : t.n_gen) / s;
}

}  // namespace

ThroughputResult run_throughput_test(const Model& model, const ThroughputTest& test, int reps,
                                     const ContextParams& context) {
  ContextParams cp = context;
  const int needed = test.n_depth + test.n_prompt + test.n_gen;
  if (test.n_ctx > 0 && test.n_ctx < needed)
    throw InputError("test " + test.name + " needs a context of " + std::to_string(needed) + " tokens; -c is " +
                     std::to_string(test.n_ctx));
  cp.n_ctx = test.n_ctx > 0 ? test.n_ctx : std::max(needed, 16);
  cp.n_threads = test.threads;
  Context ctx(model, cp);
  std::mt19937 rng(1234);
  ThroughputResult r;
  r.test = test;
  r.threads = ctx.n_threads();
  r.kv_cache_bytes = int64_t(ctx.kv_cache_bytes());
  run_once(ctx, test, rng);  // warm-up: page in the weights, spin up threads
  for (int i = 0; i < reps; ++i) r.samples_tps.push_back(run_once(ctx, test, rng));
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace qinfer
