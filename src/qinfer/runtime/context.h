// Inference state for one sequence: KV cache, preallocated activations, and
// the forward pass of a Llama-family decoder over a batch of tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "qinfer/core/thread_pool.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/ops.h"

namespace qinfer {

// Sees the input of every weight matmul (e.g. to collect an importance
// matrix): x is [n_tok][w.ne[0]] floats, before any conversion for the kernel.
class MatmulObserver {
 public:
  virtual ~MatmulObserver() = default;
  virtual void on_matmul(const Tensor& w, const float* x, int n_tok) = 0;
};

struct ContextParams {
  int n_ctx = 0;      // 0: the model's training context, capped at 4096
  int n_batch = 512;  // tokens per forward pass (longer inputs are split)
  int n_threads = 0;  // resolve_thread_count (core/threads.h): 0 is the physical cores
  MatmulObserver* observer = nullptr;  // optional; not owned
};

class Context {
 public:
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
  ThreadPool& pool() { return pool_; }
  int n_threads() const { return pool_.size(); }  // as resolved, what really runs
  size_t kv_cache_bytes() const;

 private:
  void forward_batch(const int32_t* tokens, int n, bool all_logits, int logits_offset);
  void matmul(const Tensor& w, const float* x, int n_tok, float* y);
  void attention(int il, int n);

  const Model& model_;
  MatmulObserver* observer_;
  int n_ctx_;
  int n_batch_;
  int n_past_ = 0;
  ThreadPool pool_;
  ops::RopeCache rope_;

  // KV cache, F16 as llama.cpp's default: [layer][pos][kv_dim].
  std::vector<uint16_t> k_cache_, v_cache_;

  // Activations for one batch, [token][dim].
  std::vector<float> x_, xn_, q_, k_, v_, attn_, tmp_, gate_, up_;
  std::vector<float> logits_;
  int logits_rows_ = 0;        // rows valid in logits_
  int logits_first_ = 0;       // token index of logits_ row 0
  std::vector<uint8_t> act_q_;  // activations converted to the weights' dot type
  std::vector<float> scores_;   // per thread: attention scores over the context
  std::vector<uint16_t> probs16_;
  std::vector<uint16_t> q16_;
};

}  // namespace qinfer
