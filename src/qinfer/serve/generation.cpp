#include "qinfer/serve/generation.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "qinfer/core/error.h"
#include "qinfer/serve/api_error.h"
#include "qinfer/serve/server_metrics.h"

namespace qinfer::serve {

// Token timings for /metrics, kept by the engine's callbacks (no allocation per token).
struct TokenTimer {
  ServerMetrics* metrics = nullptr;
  Histogram* ttft = nullptr;
  Histogram* itl = nullptr;
  std::string model;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last;
  bool first = true;
  std::atomic<bool> stopped_by_text{false};  // a stop string ended it: not a client cancel
};

struct Generation::Channel {
  struct Event {
    bool finish = false;
    int32_t token = 0;
    float logprob = 0;
    std::vector<TokenLogprob> top;
    FinishEvent end;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;
  std::shared_ptr<TokenTimer> timer;
};

namespace {

std::vector<int32_t> build_prompt(const ModelHandle& m, const GenerationRequest& r, std::string& text) {
  const Tokenizer& tok = *m.model->tokenizer;
  bool parse_special = false;
  if (r.endpoint == Endpoint::ChatCompletions) {
    ChatInput in;
    in.messages = r.messages;
    in.tools = r.tools;
    in.extra = r.template_kwargs;
    try {
      text = apply_chat(m.chat, in);
    } catch (const InputError& e) {
      throw ApiError(400, e.what(), "messages");
    }
    parse_special = m.chat.kind != ChatPlan::Kind::PlainText;
  } else {
    text = r.prompt;
  }
  std::vector<int32_t> tokens = tok.encode(text, true, parse_special);
  if (tokens.empty()) throw ApiError(400, "the prompt is empty (it tokenizes to nothing)", r.endpoint == Endpoint::ChatCompletions ? "messages" : "prompt");
  return tokens;
}

SamplerParams sampling_for(const GenerationRequest& r, SamplerParams p) {
  if (r.temperature) p.temp = *r.temperature;
  if (r.top_p) p.top_p = *r.top_p;
  if (r.min_p) p.min_p = *r.min_p;
  if (r.top_k) p.top_k = *r.top_k;
  if (r.repeat_penalty) p.repeat_penalty = *r.repeat_penalty;
  if (r.repeat_last_n) p.repeat_last_n = *r.repeat_last_n;
  if (r.seed) p.seed = *r.seed;
  return p;
}

}  // namespace

Generation::Generation(std::shared_ptr<ModelHandle> model, const GenerationRequest& r, const GenerationLimits& limits)
    : model_(std::move(model)), channel_(std::make_shared<Channel>()), text_(r.stop) {
  Engine& engine = *model_->engine;
  std::vector<int32_t> prompt = build_prompt(*model_, r, prompt_text_);
  n_prompt_ = int(prompt.size());
  if (n_prompt_ > engine.n_ctx())
    throw ApiError(400, "the prompt is " + std::to_string(n_prompt_) + " tokens, " + std::to_string(n_prompt_ - engine.n_ctx()) +
                            " more than the context of " + std::to_string(engine.n_ctx()) + " tokens",
                   r.endpoint == Endpoint::ChatCompletions ? "messages" : "prompt", "", "context_length_exceeded");

  EngineRequest er;
  er.prompt = std::move(prompt);
  er.sampling = sampling_for(r, limits.sampling);
  er.max_tokens = r.max_tokens;
  er.ignore_eog = r.ignore_eos;
  want_logprobs_ = r.logprobs >= 0;
  er.logprobs = want_logprobs_;
  er.top_logprobs = want_logprobs_ ? r.top_logprobs : 0;
  // The callbacks hold the channel and the handle, never this object: the
  // handler may be gone by the time the engine finishes a cancelled request.
  std::shared_ptr<Channel> ch = channel_;
  if (limits.metrics) {
    auto t = std::make_shared<TokenTimer>();
    t->metrics = limits.metrics;
    t->model = model_->id;
    t->ttft = &limits.metrics->time_to_first_token(model_->id);
    t->itl = &limits.metrics->inter_token_latency(model_->id);
    ch->timer = std::move(t);
  }
  er.on_token = [ch, want = want_logprobs_](const TokenEvent& ev) {
    if (TokenTimer* t = ch->timer.get()) {
      const auto now = std::chrono::steady_clock::now();
      (t->first ? t->ttft : t->itl)->observe(std::chrono::duration<double>(now - (t->first ? t->start : t->last)).count());
      t->first = false;
      t->last = now;
    }
    Channel::Event e;
    e.token = ev.token;
    if (want) {
      e.logprob = ev.logprob;
      e.top.assign(ev.top, ev.top + ev.n_top);
    }
    {
      std::lock_guard lock(ch->mu);
      ch->events.push_back(std::move(e));
    }
    ch->cv.notify_one();
  };
  // The engine finishes every request before the handle that owns it goes.
  std::atomic<int>* in_flight = &model_->in_flight;
  er.on_finish = [ch, in_flight](const FinishEvent& ev) {
    in_flight->fetch_sub(1);
    if (TokenTimer* t = ch->timer.get())
      t->metrics->generation(t->model, ev.n_prompt, ev.n_generated,
                             ev.reason == FinishReason::Cancelled && !t->stopped_by_text);
    Channel::Event e;
    e.finish = true;
    e.end = ev;
    {
      std::lock_guard lock(ch->mu);
      ch->events.push_back(std::move(e));
    }
    ch->cv.notify_one();
  };

  const int before = model_->in_flight.fetch_add(1);
  if (limits.max_in_flight > 0 && before >= limits.max_in_flight) {
    model_->in_flight.fetch_sub(1);
    ApiError busy(429, "model '" + model_->id + "' is busy: " + std::to_string(before) +
                           " requests are running or queued (the limit); try again shortly", "", "", "queue_full");
    busy.retry_after_s = 1;
    throw busy;
  }
  try {
    id_ = engine.submit(std::move(er));
  } catch (const InputError& e) {
    model_->in_flight.fetch_sub(1);
    throw ApiError(400, e.what());
  } catch (...) {
    model_->in_flight.fetch_sub(1);
    throw;
  }
}

Generation::~Generation() { cancel(); }

void Generation::cancel() {
  if (!finished_ && id_ != 0) model_->engine->cancel(id_);
  finished_ = true;
}

std::optional<GenerationPiece> Generation::next(std::chrono::milliseconds wait) {
  if (finished_) return std::nullopt;
  std::deque<Channel::Event> events;
  {
    std::unique_lock lock(channel_->mu);
    if (!channel_->cv.wait_for(lock, wait, [&] { return !channel_->events.empty(); })) return std::nullopt;
    events.swap(channel_->events);
  }
  const Tokenizer& tok = *model_->model->tokenizer;
  GenerationPiece piece;
  for (Channel::Event& e : events) {
    if (e.finish) {
      if (e.end.reason == FinishReason::Error) {
        finished_ = true;
        throw ApiError(500, "generation failed: " + e.end.error);
      }
      piece.text += text_.finish();
      piece.finished = true;
      // Cancelled without our asking: the engine is shutting down.
      piece.finish_reason = e.end.reason == FinishReason::Length ? "length"
                            : e.end.reason == FinishReason::Cancelled ? "cancelled" : "stop";
      finished_ = true;
      return piece;
    }
    ++n_generated_;
    piece.text += text_.push(tok.token_to_piece(e.token, false));
    if (want_logprobs_) {
      TokenDetail d;
      d.text = tok.token_to_piece(e.token, true);
      d.logprob = e.logprob;
      for (const TokenLogprob& t : e.top) d.top.emplace_back(tok.token_to_piece(t.token, true), t.logprob);
      piece.tokens.push_back(std::move(d));
    }
    if (text_.stopped()) {
      // A stop string ended it: the tokens after it were never asked for.
      if (channel_->timer) channel_->timer->stopped_by_text = true;
      model_->engine->cancel(id_);
      piece.finished = true;
      piece.finish_reason = "stop";
      finished_ = true;
      return piece;
    }
  }
  return piece;
}

}  // namespace qinfer::serve
