// The KV-cache options every command that runs the model shares:
// --cache-type (and llama.cpp's -ctk/-ctv), --kv-block, --kv-budget and
// --prefill-chunk, and the start-up line that states what they give.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "qinfer/eval/perplexity_job.h"
#include "qinfer/model/model.h"
#include "qinfer/plan/memory_plan.h"
#include "qinfer/runtime/context.h"
#include "qinfer/runtime/engine.h"
#include "qinfer/store/run_record.h"

namespace qinfer::cli {

struct KvArgs {
  std::string cache_type;    // both K and V
  std::string cache_type_k;  // overrides cache_type for K
  std::string cache_type_v;  // overrides cache_type for V
  int kv_block = 16;
  std::string kv_budget;     // tokens ("8192") or bytes ("512M", "2GiB"); empty: from the context
  int prefill_chunk = 0;     // 0: the command's default

  KvCacheType type() const;
  // Some KV option was given: the commands then state what it gives on stderr
  // (with the defaults they keep stderr as it was).
  bool given() const {
    return !cache_type.empty() || !cache_type_k.empty() || !cache_type_v.empty() || kv_block != 16 ||
           !kv_budget.empty() || prefill_chunk > 0;
  }
  // The budget in tokens for a cache of `bytes_per_token`; 0 when not given.
  int64_t budget_tokens(size_t bytes_per_token) const;
};

// with_budget/with_chunk: whether the command takes --kv-budget / --prefill-chunk.
void add_kv_args(CLI::App& cmd, KvArgs& args, bool with_budget = true, bool with_chunk = true);

// Fills the cache fields of a Context's parameters (budget: the context must fit it).
void apply_kv_args(const KvArgs& args, const Model& model, ContextParams& cp);
void apply_kv_args(const KvArgs& args, const Model& model, EngineParams& ep);
void apply_kv_args(const KvArgs& args, PerplexityJob& job);
// The same choices for the memory plan (the budget stays text: the plan converts it per model).
void apply_kv_args(const KvArgs& args, PlanRequest& plan);

// "KV cache: q8_0 K, q8_0 V, 16-token blocks: 8704 B/token (53.1% of f16, -46.9%)".
std::string describe_kv(const Model& model, KvCacheType type, int block);
// Adds kv_bytes_per_token and kv_saving_pct (vs an F16 cache) to a stored run.
void add_kv_metrics(RunRecord& run, const Model& model, KvCacheType type);

}  // namespace qinfer::cli
