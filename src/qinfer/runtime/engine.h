// Continuous batching over a paged KV cache: the engine `qinfer serve` and
// `qinfer bench` call. Requests are submitted (from any thread) and queue;
// every step() runs ONE batched forward pass holding a decode token of every
// running sequence plus chunks of prompts being prefilled, samples the next
// token of each sequence whose input is complete, and admits waiting requests
// while KV blocks are free. KV memory comes from one pool of fixed-size
// blocks, allocated as sequences grow and returned when they end; prompts
// starting with blocks already computed (a shared system prompt, the previous
// turn of a chat) reuse them. A sequence's tokens do not depend on what else
// is in the batch: greedy output equals `qinfer run --temp 0` token for token.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "qinfer/runtime/block_pool.h"
#include "qinfer/runtime/forward.h"
#include "qinfer/runtime/kv_cache.h"
#include "qinfer/runtime/runtime_memory.h"
#include "qinfer/runtime/sampler.h"

namespace qinfer {

struct EngineParams {
  int n_ctx = 0;             // positions per sequence; 0: the model's training context, capped at 4096
  int max_seqs = 8;          // sequences in one step at most (others wait)
  int prefill_chunk = 512;   // prompt tokens per step, over all sequences (long prompts go in chunks)
  int64_t kv_budget_tokens = 0;  // pool size in tokens; 0: n_ctx × max_seqs
  int kv_block = 16;         // tokens per block, a multiple of 16
  KvCacheType cache_type;    // F16 by default
  bool prefix_cache = true;  // reuse computed blocks across requests
  int n_threads = 0;         // resolve_thread_count (core/threads.h): 0 is the physical cores
};

// "stop": an end-of-generation or stop token; "length": max_tokens or the
// context is full; "cancelled": cancel() or the engine shut down; "error":
// the engine's loop failed (FinishEvent::error says why).
enum class FinishReason { Stop, Length, Cancelled, Error };
const char* finish_reason_name(FinishReason r);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

// One generated token. logprob and top are log-softmax values of the model's
// raw logits (before penalties or temperature), filled when the request asked.
struct TokenEvent {
  uint64_t request = 0;
  int32_t token = 0;
  int index = 0;  // 0 for the first generated token
  float logprob = 0;
  const TokenLogprob* top = nullptr;  // the n_top most likely tokens, most likely first
  int n_top = 0;
};

struct FinishEvent {
  uint64_t request = 0;
  FinishReason reason = FinishReason::Stop;
  int32_t stop_token = -1;  // the token that stopped it (not emitted as a TokenEvent), else -1
  int n_prompt = 0;
  int n_cached = 0;  // prompt tokens reused from the prefix cache
  int n_generated = 0;
  int n_preempted = 0;  // times its blocks were taken back and its tokens recomputed
  double queue_ms = 0;    // submit to admission
  double prefill_ms = 0;  // admission to the first token
  double decode_ms = 0;   // first token to finish
  std::string error;      // FinishReason::Error only
};

struct EngineRequest {
  std::vector<int32_t> prompt;
  SamplerParams sampling;  // temp <= 0: greedy; seed 0xFFFFFFFF: random
  int max_tokens = 128;    // tokens to generate at most; < 0: until a stop or the context is full
  std::vector<int32_t> stop_tokens;  // also stop at these (besides end-of-generation)
  bool ignore_eog = false;           // end-of-generation tokens do not stop generation
  bool logprobs = false;             // fill TokenEvent::logprob
  int top_logprobs = 0;              // 0..20 alternatives per token
  // Called on the thread running step(), outside the engine's lock: they may
  // call submit(), cancel() and stats(), not step()/start()/stop()/drain().
  std::function<void(const TokenEvent&)> on_token;
  std::function<void(const FinishEvent&)> on_finish;
};

struct EngineStats {
  int running = 0, waiting = 0;
  int block_size = 0;
  int blocks_total = 0, blocks_used = 0, blocks_cached = 0, blocks_free = 0;
  int peak_blocks_used = 0;
  int64_t tokens_in_use = 0, peak_tokens_in_use = 0;  // KV rows held by running sequences
  size_t bytes_per_token = 0;                         // K+V, all layers
  size_t block_bytes = 0, bytes_total = 0;
  size_t bytes_used() const { return block_bytes * size_t(blocks_used); }
  size_t peak_bytes_used() const { return block_bytes * size_t(peak_blocks_used); }
  int64_t requests = 0, finished = 0, cancelled = 0;
  int64_t prompt_tokens = 0, cached_tokens = 0;  // over admitted requests
  int64_t generated_tokens = 0, steps = 0, preemptions = 0;
  double prefix_hit_rate() const { return prompt_tokens ? double(cached_tokens) / double(prompt_tokens) : 0.0; }
};

class Engine {
 public:
  // What an Engine with these parameters allocates (the pool is resident once
  // every block was written). InputError for parameters the constructor refuses.
  static RuntimeMemory memory(const ModelConfig& c, const EngineParams& params);

  Engine(const Model& model, const EngineParams& params);
  ~Engine();  // stops the loop; unfinished requests finish as cancelled
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request; returns its id (never 0). Throws InputError for an
  // empty prompt, a token outside the vocabulary, a prompt longer than the
  // context, or a request that could never fit the KV pool (the message names
  // the tokens it needs and the pool's capacity). Any thread.
  uint64_t submit(EngineRequest request);
  // The client is gone: the request finishes as cancelled and its blocks are
  // freed at the next step boundary. False when the id is not live. Any thread.
  bool cancel(uint64_t id);
  // One batched forward pass (and the scheduling around it). Returns false
  // when there was nothing to do. One thread at a time (not while the loop runs).
  bool step();
  EngineStats stats() const;  // any thread
  // Starts a new window for the peaks in stats() (peak blocks and tokens). Any thread.
  void reset_peaks();
  // Checks the block accounting against the sequences (every block's owners
  // are exactly the running sequences whose tables hold it; tables cover their
  // computed tokens; the pool's own lists are consistent). Throws Error. Not
  // while step() runs.
  void check() const;

  // A thread that steps while there is work and sleeps otherwise.
  void start();
  // Stops that thread after its current step; queued requests stay queued.
  void stop();
  // Blocks until no request is waiting or running (stepping on this thread
  // when the loop is not started).
  void drain();

  const Model& model() const { return model_; }
  int n_ctx() const { return n_ctx_; }
  int kv_capacity_tokens() const { return pool_.n_blocks() * pool_.block_size(); }
  size_t kv_bytes_per_token() const { return cache_.bytes_per_token(); }
  KvCacheType cache_type() const { return cache_.type(); }
  int threads() { return forward_.pool().size(); }
  int max_seqs() const { return params_.max_seqs; }
  size_t kv_cache_bytes() const { return cache_.total_bytes(); }
  // Every buffer held now besides the KV cache (forward pass, logits, sampling scratch).
  size_t buffer_bytes() const {
    return forward_.allocated_bytes() + logits_.capacity() * sizeof(float) + top_idx_.capacity() * sizeof(int32_t);
  }

 private:
  struct Sequence;
  using SeqPtr = std::unique_ptr<Sequence>;

  void take_inbox();
  void finish(SeqPtr seq, FinishReason reason, int32_t stop_token, const std::string& error = {});
  void fail_all(const std::string& why);
  void preempt(Sequence& seq);
  bool grow(Sequence& seq, int n_tokens);  // blocks for n more tokens; false if the pool is short
  bool admit(Sequence& seq, int budget, int& chunk);
  void publish_full_blocks(Sequence& seq);
  struct Retired {
    SeqPtr seq;
    FinishReason reason;
    int32_t stop_token;
  };
  void sample(Sequence& seq, const float* logits, std::vector<Retired>& done);
  void update_stats();
  void loop();

  const Model& model_;
  EngineParams params_;
  int n_ctx_;
  Forward forward_;
  KvCache cache_;
  BlockPool pool_;

  // Owned by the stepping thread.
  std::deque<SeqPtr> waiting_;
  std::vector<SeqPtr> running_;  // in admission order
  std::vector<int32_t> ub_tokens_;
  std::vector<UbatchSeq> ub_seqs_;
  std::vector<Sequence*> ub_owner_;
  std::vector<Retired> retired_;
  std::vector<float> logits_;
  std::vector<TokenLogprob> top_;
  std::vector<int32_t> top_idx_;
  BlockPool::Match match_;

  // Shared with other threads, under mu_.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the loop waits for work
  std::condition_variable idle_cv_;  // drain() waits for idleness
  std::vector<SeqPtr> inbox_;
  std::vector<uint64_t> cancels_;
  std::unordered_set<uint64_t> live_;
  uint64_t next_id_ = 1;
  EngineStats stats_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace qinfer
