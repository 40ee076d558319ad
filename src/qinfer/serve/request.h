// An OpenAI /v1/completions or /v1/chat/completions body, checked field by
// field into what the engine needs. Pure (JSON text in, struct out), so the
// fuzzer (fuzz/fuzz_request.cpp) and the tests drive it without a server.
// Every problem is an ApiError 400 naming the field; fields that would change
// the answer in a way we do not implement (n > 1, penalties, logit_bias, ...)
// are refused rather than ignored. Unknown fields are ignored, as llama.cpp's
// server and vLLM do.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qinfer::serve {

enum class Endpoint { Completions, ChatCompletions };

struct GenerationRequest {
  Endpoint endpoint = Endpoint::Completions;
  std::string model;  // "" when not given: the server's default model
  // Completions: the prompt text. Chat: the messages (content strings; text
  // parts joined), the tools list (null when absent) and template variables.
  std::string prompt;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();
  int max_tokens = -1;  // < 0: until a stop or the context is full
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool ignore_eos = false;
  bool echo = false;           // completions: the prompt is part of the text
  int logprobs = -1;           // completions: -1 off, else alternatives (0..5); chat: 0 when logprobs=true
  int top_logprobs = 0;        // alternatives per token
  // Sampling; absent fields keep the server's defaults.
  std::optional<float> temperature, top_p, min_p, repeat_penalty;
  std::optional<int> top_k, repeat_last_n;
  std::optional<uint64_t> seed;
};

// Throws ApiError(400) for a body that is not a JSON object or a field out of
// range or of the wrong type.
GenerationRequest parse_generation_request(std::string_view body, Endpoint endpoint);

// The stop strings a request may give at most (OpenAI: 4; llama.cpp: any).
inline constexpr size_t kMaxStopStrings = 16;

}  // namespace qinfer::serve
