// Inference state for one sequence: a KV cache of its own and the batched
// forward pass (runtime/forward.h) run with that one sequence. run,
// perplexity, eval, imatrix and optimize use it; Engine runs the same forward
// pass for many sequences at once, with the same results per sequence.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "qinfer/runtime/forward.h"
#include "qinfer/runtime/kv_cache.h"
#include "qinfer/runtime/runtime_memory.h"

namespace qinfer {

struct ContextParams {
  int n_ctx = 0;      // 0: the model's training context, capped at 4096
  int n_batch = 512;  // tokens per forward pass (longer inputs are split)
  int n_threads = 0;  // resolve_thread_count (core/threads.h): 0 is the physical cores
  MatmulObserver* observer = nullptr;  // optional; not owned
  KvCacheType cache_type;  // F16 K and V by default, as llama.cpp
  int kv_block = 16;       // tokens per KV block (a multiple of 16)
  int64_t kv_budget_tokens = 0;  // 0: the context; else the context must fit in it
  bool fuse = true, segments = false;  // ForwardParams' A/B switches (the same bits either way)
};

class Context {
 public:
  // What a Context with these parameters allocates; logits_rows is the most
  // rows of logits one eval() asks for (1 when generating, a whole chunk for
  // perplexity). InputError for parameters the constructor refuses.
  static RuntimeMemory memory(const ModelConfig& c, const ContextParams& params, int logits_rows = 1);

  Context(const Model& model, const ContextParams& params);
  ~Context();

  // Evaluates n tokens at positions n_past()..n_past()+n-1 and appends them to
  // the KV cache. With all_logits, logits(i) is the i-th token's distribution;
  // otherwise only logits(n - 1) is computed. Throws InputError when the
  // tokens do not fit the context or an id is out of range.
  void eval(const int32_t* tokens, int n, bool all_logits);
  const float* logits(int i) const;

  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  void reset() { n_past_ = 0; }
  // Drops cached positions >= n (e.g. to re-evaluate a suffix).
  void truncate(int n);

  const Model& model() const { return model_; }
  ThreadPool& pool() { return forward_.pool(); }
  int n_threads() { return forward_.pool().size(); }  // as resolved, what really runs
  size_t kv_cache_bytes() const { return cache_.total_bytes(); }
  size_t kv_bytes_per_token() const { return cache_.bytes_per_token(); }
  KvCacheType cache_type() const { return cache_.type(); }
  // Every buffer held now besides the KV cache (forward pass, logits).
  size_t buffer_bytes() const { return forward_.allocated_bytes() + logits_.capacity() * sizeof(float); }

 private:
  const Model& model_;
  int n_ctx_;
  int n_batch_;
  int n_past_ = 0;
  Forward forward_;
  KvCache cache_;
  std::vector<int32_t> blocks_;  // the sequence's block table: block i holds positions i·B..
  std::vector<float> logits_;
  int logits_rows_ = 0;   // rows valid in logits_
  int logits_first_ = 0;  // token index of logits_ row 0
};

}  // namespace qinfer
