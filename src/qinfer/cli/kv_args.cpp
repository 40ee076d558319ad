#include "qinfer/cli/kv_args.h"

#include <cctype>
#include <cstdio>

#include "qinfer/cli/flags.h"
#include "qinfer/core/ascii.h"
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
  if (kv_budget.empty()) return 0;
  const std::string& s = kv_budget;
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  const std::string unit = ascii_lower(s.substr(i));
  const int64_t scale = unit.empty() ? 0
                        : unit == "b" ? 1
                        : unit == "k" || unit == "kb" || unit == "kib" ? int64_t(1) << 10
                        : unit == "m" || unit == "mb" || unit == "mib" ? int64_t(1) << 20
                        : unit == "g" || unit == "gb" || unit == "gib" ? int64_t(1) << 30
                        : -1;
  if (i == 0 || i > 12 || scale < 0)
    throw InputError("--kv-budget " + s + ": expected tokens (8192) or bytes with a unit (512M, 2GiB)");
  const int64_t n = std::stoll(s.substr(0, i));
  const int64_t tokens = scale == 0 ? n : n * scale / int64_t(bytes_per_token);
  if (tokens < 1) throw InputError("--kv-budget " + s + " holds less than one token of KV cache");
  return tokens;
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
