#include "qinfer/bench/engine_target.h"

#include <exception>

#include "qinfer/core/error.h"
#include "qinfer/runtime/chat_template.h"
#include "qinfer/runtime/sampler.h"

namespace qinfer::bench {

EngineTarget::EngineTarget(const Model& model, const EngineTargetOptions& options) : model_(model), opt_(options) {
  if (opt_.slots < 1) throw InputError("--slots must be at least 1");
  ContextParams cp;
  cp.n_ctx = opt_.n_ctx;
  cp.n_threads = opt_.threads;
  for (int i = 0; i < opt_.slots; ++i) ctxs_.push_back(std::make_unique<Context>(model_, cp));
  chat_plan_ = std::make_unique<ChatPlan>(plan_chat(*model_.tokenizer));
  busy_.assign(ctxs_.size(), false);
}

EngineTarget::~EngineTarget() = default;

std::string EngineTarget::describe() const { return "qinfer in-process (" + model_.path + ")"; }

size_t EngineTarget::kv_cache_bytes() const {
  size_t n = 0;
  for (const auto& c : ctxs_) n += c->kv_cache_bytes();
  return n;
}

std::vector<int32_t> EngineTarget::tokenize(const BenchPrompt& p) const {
  if (!p.tokens.empty()) return p.tokens;
  const Tokenizer& tok = *model_.tokenizer;
  if (p.messages.empty()) return tok.encode(p.text, true, false);
  ChatInput in;
  in.messages = messages_to_json(p.messages);
  return tok.encode(apply_chat(*chat_plan_, in), true, chat_plan_->kind != ChatPlan::Kind::PlainText);
}

// First come, first served, as a server's queue: a request takes a free slot
// only when every request that arrived before it has one.
Context& EngineTarget::acquire(int& slot) {
  std::unique_lock lock(mu_);
  const uint64_t ticket = next_ticket_++;
  for (;;) {
    if (ticket == serving_ticket_)
      for (size_t i = 0; i < busy_.size(); ++i)
        if (!busy_[i]) {
          busy_[i] = true;
          slot = int(i);
          ++serving_ticket_;
          cv_.notify_all();  // the next in line may find another free slot
          return *ctxs_[i];
        }
    cv_.wait(lock);
  }
}

void EngineTarget::release(int slot) {
  {
    std::lock_guard lock(mu_);
    busy_[size_t(slot)] = false;
  }
  cv_.notify_all();
}

RequestTimeline EngineTarget::run(const BenchPrompt& prompt, int /*worker*/) {
  RequestTimeline r;
  r.send_s = now_s();
  int slot = -1;
  try {
    const std::vector<int32_t> tokens = tokenize(prompt);
    if (tokens.empty()) throw InputError("prompt has no tokens");
    r.prompt_tokens = int(tokens.size());
    Context& ctx = acquire(slot);
    ctx.reset();
    if (int(tokens.size()) >= ctx.n_ctx())
      throw InputError("prompt of " + std::to_string(tokens.size()) + " tokens does not fit the context of " +
                       std::to_string(ctx.n_ctx()));
    ctx.eval(tokens.data(), int(tokens.size()), false);
    const int n_vocab = model_.config.n_vocab;
    int last = int(tokens.size()) - 1;  // row of the logits to sample from
    for (int i = 0; i < prompt.max_tokens; ++i) {
      const int32_t tok = argmax(ctx.logits(last), n_vocab);
      r.chunk_s.push_back(now_s());
      ++r.output_tokens;
      if (!opt_.ignore_eos && model_.tokenizer->is_eog(tok)) break;
      if (i + 1 == prompt.max_tokens || ctx.n_past() >= ctx.n_ctx()) break;
      ctx.eval(&tok, 1, false);
      last = 0;
    }
    release(slot);
    slot = -1;
    r.ok = true;
  } catch (const std::exception& e) {
    if (slot >= 0) release(slot);
    r.ok = false;
    r.error = e.what();
  }
  return r;
}

}  // namespace qinfer::bench
