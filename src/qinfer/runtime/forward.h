// The forward pass of a Llama-family decoder over a batch of tokens from one
// or several sequences (a ubatch): every weight matmul runs once over all the
// tokens; attention runs per sequence over its block table in the paged KV
// cache. Context (one sequence) and Engine (continuous batching) both run it,
// and a token's results do not depend on what else is in the batch: the
// kernels are batch-invariant (tests/test_kernels_batch_invariance.cpp).
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "qinfer/core/thread_pool.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/kv_cache.h"
#include "qinfer/runtime/ops.h"

namespace qinfer {

// Sees the input of every weight matmul (e.g. to collect an importance
// matrix): x is [n_tok][w.ne[0]] floats, before any conversion for the kernel.
class MatmulObserver {
 public:
  virtual ~MatmulObserver() = default;
  virtual void on_matmul(const Tensor& w, const float* x, int n_tok) = 0;
};

// One sequence's slice of a ubatch: n consecutive tokens at positions
// pos0..pos0+n-1, whose K/V go to (and whose attention reads) the blocks of
// `blocks` (covering positions 0..pos0+n-1). Logits are computed for its last
// n_logits tokens.
struct UbatchSeq {
  int n = 0;
  int pos0 = 0;
  const int32_t* blocks = nullptr;
  int n_logits = 0;
};

struct Ubatch {
  const int32_t* tokens = nullptr;  // every sequence's tokens, one sequence after another
  const UbatchSeq* seqs = nullptr;
  int n_seqs = 0;
};

struct ForwardParams {
  int max_tokens = 512;  // tokens per ubatch
  int max_seqs = 1;      // sequences per ubatch
  int max_logits = 1;    // logits rows per ubatch
  int n_ctx = 4096;      // positions (RoPE table)
  int n_threads = 0;     // resolve_thread_count (core/threads.h): 0 is the physical cores
  MatmulObserver* observer = nullptr;  // optional; not owned
  // How the weight matmuls are spread over the threads (the same bits either
  // way; A/B switches, also QINFER_NO_FUSE=1 / QINFER_SEGMENTS=1):
  // fuse (up to 16 tokens): Q/K/V in one pool region, gate/up and the SwiGLU
  // in one, the residual adds inside wo's and ffn_down's regions (each thread
  // on its rows); segments: up to 16 tokens, each thread streams its own
  // contiguous part of the rows (ThreadPool::parallel_segments) instead of
  // taking chunks in turn — off: slower than chunks in the quiet A/B (README).
  bool fuse = true;
  bool segments = false;
};

class Forward {
 public:
  Forward(const Model& model, const ForwardParams& params);

  // Bytes of the buffers a Forward with these parameters allocates
  // (activations, attention scratch per thread, the RoPE table), by the same
  // arithmetic as the constructor: the memory plan asks here.
  static size_t buffer_bytes(const ModelConfig& c, const ForwardParams& params);
  // What this one holds now (equal to buffer_bytes of its parameters).
  size_t allocated_bytes() const;

  // Runs the ubatch, writing every token's K/V into `cache`, and the
  // requested logits into `logits` as rows of n_vocab floats (sequence by
  // sequence, token by token). Checks sizes and token ids (InputError).
  void run(const Ubatch& ub, KvCache& cache, float* logits);
  // Runs only layers [first, end) on a given hidden state: `hidden` holds the
  // state entering layer `first` ([token][n_embd] floats; null: the token
  // embeddings, so first must be 0) and receives the state after layer end-1.
  // Logits only when end is n_layer. The calibrated quantizers keep each
  // layer's input this way instead of re-running the layers before it.
  void run_layers(const Ubatch& ub, KvCache& cache, int first, int end, float* hidden, float* logits);

  const Model& model() const { return model_; }
  const ForwardParams& params() const { return params_; }
  ThreadPool& pool() { return pool_; }

 private:
  // same_input: x is the previous call's input, unchanged since.
  void matmul(const Tensor& w, const float* x, int n_tok, float* y, bool same_input = false);
  // x (n_tok rows of w.ne[0] floats) in w's dot type, or x itself (F32);
  // *stride gets the row stride of what is returned.
  const void* convert(const Tensor& w, const float* x, int n_tok, bool same_input, size_t* stride);
  // Rows [r0, r1) of y = w · xq (xq from convert).
  static void matmul_range(const Tensor& w, const void* xq, size_t x_stride, int n_tok, float* y, int64_t r0,
                           int64_t r1);
  // fn over [0, rows) in row chunks on every thread (parallel_segments or parallel_chunks).
  void split_rows(int64_t rows, int n_tok, FunctionRef<void(int64_t, int64_t)> fn);
  bool fuse(int n_tok) const;  // one pool region for Q/K/V, gate/up+SwiGLU, matmul+residual
  // The layer's pieces, fused (params_.fuse) or one region per matmul.
  void qkv(const LayerWeights& L, int n_tok);
  void gate_up_swiglu(const LayerWeights& L, int n_tok);
  void matmul_add(const Tensor& w, const float* in, int n_tok);  // x_ += w · in
  void attention(int layer, const Ubatch& ub, const KvCache& cache);

  struct Sizes;  // element counts of every buffer (forward.cpp)
  static Sizes sizes(const ModelConfig& c, const ForwardParams& params, int n_threads);

  const Model& model_;
  ForwardParams params_;
  ThreadPool pool_;
  ops::RopeCache rope_;

  // Per token of the ubatch: position, and where its K/V go.
  std::vector<int32_t> pos_, block_, slot_;
  // Attention jobs: (sequence, KV head, first token, tokens).
  struct AttnJob {
    int seq, head, t0, n;
  };
  std::vector<AttnJob> jobs_;
  std::vector<int> seq_first_;  // index of each sequence's first token
  std::atomic<int> next_job_{0};
  int tile_tokens_ = 1;  // query tokens per attention job
  size_t attn_scratch_bytes_ = 0;
  std::vector<uint8_t> attn_scratch_;  // per thread

  // Activations, [token][dim].
  std::vector<float> x_, xn_, q_, k_, v_, attn_, tmp_, gate_, up_;
  std::vector<uint8_t> act_q_;  // activations converted to the weights' dot type
  TypeId converted_type_ = TypeId::F32;  // what act_q_ holds (converted_n_ == 0: nothing)
  int64_t converted_n_ = 0;
};

}  // namespace qinfer
