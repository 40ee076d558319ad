// The in-process engine as a benchmark target. The engine runs one sequence
// per Context and has no batching yet, so `slots` Contexts serve requests and
// a request that finds them all busy waits for one. The wait is part of its
// TTFT, as a request queued inside a server would see it: with the default of
// one slot, concurrency > 1 measures a single-sequence server under load.
// Generation is greedy and, by default, ignores end-of-generation tokens so
// every request produces exactly max_tokens tokens (vLLM's ignore_eos).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "qinfer/bench/target.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/chat_template.h"
#include "qinfer/runtime/context.h"

namespace qinfer::bench {

struct EngineTargetOptions {
  int threads = 0;  // per Context; resolve_thread_count (core/threads.h)
  int slots = 1;    // Contexts, i.e. requests in flight at once
  int n_ctx = 0;    // per Context; 0: the model's default
  bool ignore_eos = true;
};

class EngineTarget final : public BenchTarget {
 public:
  EngineTarget(const Model& model, const EngineTargetOptions& options);
  ~EngineTarget() override;

  void prepare(int n_workers) override {}
  RequestTimeline run(const BenchPrompt& prompt, int worker) override;
  std::string describe() const override;

  size_t kv_cache_bytes() const;  // all slots together
  int threads() const { return ctxs_.empty() ? 0 : ctxs_.front()->n_threads(); }  // as resolved

 private:
  std::vector<int32_t> tokenize(const BenchPrompt& p) const;
  Context& acquire(int& slot);
  void release(int slot);

  const Model& model_;
  EngineTargetOptions opt_;
  std::vector<std::unique_ptr<Context>> ctxs_;
  std::unique_ptr<ChatPlan> chat_plan_;  // how chat prompts become text (the model's template, ...)
  std::vector<bool> busy_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ticket_ = 0, serving_ticket_ = 0;  // FIFO order of waiting requests
};

}  // namespace qinfer::bench
