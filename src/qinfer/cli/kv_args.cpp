#include "qinfer/cli/kv_args.h"

#include <cstdio>

#include "qinfer/cli/flags.h"
#include "qinfer/core/error.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer::cli {

KvCacheType KvArgs::type() const {
  KvCacheType t;
  if (!cache_type.empty()) t.k = t.v = parse_kv_cache_type(cache_type, "--cache-type");
  if (!cache_type_k.empty()) t.k = parse_kv_cache_type(cache_type_k, "--cache-type-k");
  if (!cache_type_v.empty()) t.v = parse_kv_cache_type(cache_type_v, "--cache-type-v");
  return t;
}

int64_t KvArgs::budget_tokens(size_t bytes_per_token) const {
  return parse_kv_budget_tokens(kv_budget, bytes_per_token);
}

void add_kv_args(CLI::App& cmd, KvArgs& a, bool with_budget, bool with_chunk) {
  cmd.add_option("--cache-type", a.cache_type, "KV cache type for K and V: f16 (default), q8_0, q4_0");
  cmd.add_option("--cache-type-k", a.cache_type_k, "K cache type (also llama.cpp's -ctk)");
  cmd.add_option("--cache-type-v", a.cache_type_v, "V cache type (also llama.cpp's -ctv)");
  cmd.add_option("--kv-block", a.kv_block, "tokens per KV-cache block (a multiple of 16)")
      ->capture_default_str()->check(Allowed::ints(16, 1 << 16));
  if (with_budget)
    cmd.add_option("--kv-budget", a.kv_budget,
                   "KV-cache pool size: tokens (8192) or bytes (512M, 2GiB); default from the context and parallelism");
  if (with_chunk)
    cmd.add_option("--prefill-chunk", a.prefill_chunk, "prompt tokens per forward pass (long prompts go in chunks)")
        ->check(Allowed::ints(1));
}

void apply_kv_args(const KvArgs& a, const Model& model, ContextParams& cp) {
  cp.cache_type = a.type();
  cp.kv_block = a.kv_block;
  if (a.prefill_chunk > 0) cp.n_batch = a.prefill_chunk;
  cp.kv_budget_tokens = a.budget_tokens(kv_bytes_per_token(model.config, cp.cache_type));
}

void apply_kv_args(const KvArgs& a, const Model& model, EngineParams& ep) {
  ep.cache_type = a.type();
  ep.kv_block = a.kv_block;
  if (a.prefill_chunk > 0) ep.prefill_chunk = a.prefill_chunk;
  ep.kv_budget_tokens = a.budget_tokens(kv_bytes_per_token(model.config, ep.cache_type));
}

void apply_kv_args(const KvArgs& a, PerplexityJob& job) {
  job.cache_type = a.type();
  job.kv_block = a.kv_block;
  if (a.prefill_chunk > 0) job.n_batch = a.prefill_chunk;
}

void apply_kv_args(const KvArgs& a, PlanRequest& r) {
  r.cache_type = a.type();
  r.kv_block = a.kv_block;
  r.kv_budget = a.kv_budget;
  if (a.prefill_chunk > 0) r.n_batch = a.prefill_chunk;
}

std::string describe_kv(const Model& model, KvCacheType type, int block) {
  const size_t bpt = kv_bytes_per_token(model.config, type);
  const size_t f16 = kv_bytes_per_token(model.config, KvCacheType{});
  char buf[200];
  std::snprintf(buf, sizeof buf, "KV cache: %s K, %s V, %d-token blocks: %zu B/token (%.1f%% of f16)",
                type_info(type.k).name, type_info(type.v).name, block, bpt, 100.0 * double(bpt) / double(f16));
  return buf;
}

void add_kv_metrics(RunRecord& run, const Model& model, KvCacheType type) {
  const double bpt = double(kv_bytes_per_token(model.config, type));
  const double f16 = double(kv_bytes_per_token(model.config, KvCacheType{}));
  run.add(metric::kKvBytesPerToken, bpt, "B");
  run.add(metric::kKvSavingPct, 100.0 * (1.0 - bpt / f16), "%");
}

}  // namespace qinfer::cli
