#include "qinfer/bench/engine_target.h"

#include <condition_variable>
#include <exception>
#include <mutex>

#include "qinfer/core/error.h"
#include "qinfer/runtime/chat_template.h"

namespace qinfer::bench {

EngineTarget::EngineTarget(const Model& model, const EngineTargetOptions& options)
    : model_(model), opt_(options), engine_(std::make_unique<Engine>(model, options.engine)) {
  chat_plan_ = std::make_unique<ChatPlan>(plan_chat(*model_.tokenizer));
  engine_->start();
}

EngineTarget::~EngineTarget() { engine_->stop(); }

std::string EngineTarget::describe() const { return "qinfer in-process (" + model_.path + ")"; }

std::vector<int32_t> EngineTarget::tokenize(const BenchPrompt& p) const {
  if (!p.tokens.empty()) return p.tokens;
  const Tokenizer& tok = *model_.tokenizer;
  if (p.messages.empty()) return tok.encode(p.text, true, false);
  ChatInput in;
  in.messages = messages_to_json(p.messages);
  return tok.encode(apply_chat(*chat_plan_, in), true, chat_plan_->kind != ChatPlan::Kind::PlainText);
}

RequestTimeline EngineTarget::run(const BenchPrompt& prompt, int /*worker*/) {
  RequestTimeline r;
  r.send_s = now_s();
  // Filled by the engine's loop thread, read here once it says the request is done.
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    FinishReason reason = FinishReason::Stop;
    std::string error;
  } w;
  try {
    EngineRequest req;
    req.prompt = tokenize(prompt);
    if (req.prompt.empty()) throw InputError("prompt has no tokens");
    r.prompt_tokens = int(req.prompt.size());
    req.sampling.temp = 0;
    req.max_tokens = prompt.max_tokens;
    req.ignore_eog = opt_.ignore_eos;
    r.chunk_s.reserve(size_t(prompt.max_tokens));
    req.on_token = [&r](const TokenEvent&) {
      r.chunk_s.push_back(now_s());
      ++r.output_tokens;
    };
    req.on_finish = [&w](const FinishEvent& e) {
      std::lock_guard lock(w.mu);
      w.reason = e.reason;
      w.error = e.error;
      w.done = true;
      w.cv.notify_all();
    };
    engine_->submit(std::move(req));
    std::unique_lock lock(w.mu);
    w.cv.wait(lock, [&] { return w.done; });
    r.ok = w.reason == FinishReason::Stop || w.reason == FinishReason::Length;
    if (!r.ok) r.error = w.reason == FinishReason::Error ? w.error : "request cancelled";
  } catch (const std::exception& e) {
    r.ok = false;
    r.error = e.what();
  }
  return r;
}

}  // namespace qinfer::bench
