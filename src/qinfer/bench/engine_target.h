// The in-process engine as a benchmark target: every request goes to one
// continuous-batching Engine (runtime/engine.h) whose loop thread runs all
// in-flight requests in shared forward passes, up to `max_seqs` at once
// (llama-server's --parallel); more wait in its queue, and that wait is part
// of their TTFT. Generation is greedy and, by default, ignores
// end-of-generation tokens so every request produces exactly max_tokens
// tokens (vLLM's ignore_eos).
#pragma once
#include <cstdint>
#include <memory>

#include "qinfer/bench/target.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/chat_template.h"
#include "qinfer/runtime/engine.h"

namespace qinfer::bench {

struct EngineTargetOptions {
  EngineParams engine;  // threads, max_seqs, context, KV cache and its budget
  bool ignore_eos = true;
};

class EngineTarget final : public BenchTarget {
 public:
  EngineTarget(const Model& model, const EngineTargetOptions& options);
  ~EngineTarget() override;

  void prepare(int n_workers) override {}
  RequestTimeline run(const BenchPrompt& prompt, int worker) override;
  std::string describe() const override;

  Engine& engine() { return *engine_; }
  int threads() { return engine_->threads(); }

 private:
  std::vector<int32_t> tokenize(const BenchPrompt& p) const;

  const Model& model_;
  EngineTargetOptions opt_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ChatPlan> chat_plan_;  // how chat prompts become text (the model's template, ...)
};

}  // namespace qinfer::bench
