// One request running on a model's engine, seen from the HTTP handler's
// thread: the prompt built (chat template or plain text) and checked, the
// engine's token events turned into text pieces (UTF-8 whole, stop strings
// cut, TextStream), the finish reason and exact usage counts. The engine calls
// back on its own thread; events cross over in a small locked queue, so the
// handler can wait with a timeout and notice a client that went away.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/runtime/sampler.h"
#include "qinfer/serve/model_provider.h"
#include "qinfer/serve/request.h"
#include "qinfer/serve/text_stream.h"

namespace qinfer::serve {

class ServerMetrics;

struct TokenDetail {  // for logprobs
  std::string text;   // the token's bytes (special tokens as their text)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // most likely first
};

struct GenerationPiece {
  std::string text;                  // safe to send (may be empty)
  std::vector<TokenDetail> tokens;   // filled when the request asked for logprobs
  bool finished = false;
  std::string finish_reason;         // "stop" or "length" once finished
};

struct GenerationLimits {
  int max_in_flight = 0;  // per model: running + queued requests at most (0: no limit); more get 429
  SamplerParams sampling; // the server's defaults for fields a request leaves out
  ServerMetrics* metrics = nullptr;  // TTFT, inter-token latency and token counts go here when set
};

class Generation {
 public:
  // Builds the prompt and submits it. Throws ApiError: 400 for a prompt that
  // does not fit (by how many tokens) or a template that fails, 429 when the
  // model's queue is full.
  Generation(std::shared_ptr<ModelHandle> model, const GenerationRequest& request, const GenerationLimits& limits);
  ~Generation();  // cancels a request still running
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // What happened within `wait` (tokens already queued are taken at once);
  // nullopt when nothing did. Throws ApiError(500) when the engine failed.
  std::optional<GenerationPiece> next(std::chrono::milliseconds wait);
  // The client is gone: the engine drops the sequence and frees its blocks.
  void cancel();

  bool finished() const { return finished_; }
  int prompt_tokens() const { return n_prompt_; }
  int completion_tokens() const { return n_generated_; }
  const std::string& prompt_text() const { return prompt_text_; }
  const ModelHandle& model() const { return *model_; }

 private:
  struct Channel;
  std::shared_ptr<ModelHandle> model_;
  std::shared_ptr<Channel> channel_;
  TextStream text_;
  uint64_t id_ = 0;
  bool want_logprobs_ = false;
  bool finished_ = false;
  int n_prompt_ = 0, n_generated_ = 0;
  std::string prompt_text_;
};

}  // namespace qinfer::serve
