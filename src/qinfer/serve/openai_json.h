// OpenAI's response shapes: completions and chat completions, whole and as
// stream chunks, the usage object, logprobs, and the model list. One place
// builds them so the streaming and non-streaming paths cannot drift apart.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/serve/generation.h"
#include "qinfer/serve/model_provider.h"
#include "qinfer/serve/request.h"

namespace qinfer::serve {

using Json = nlohmann::ordered_json;

// What every object of one response shares.
struct ResponseMeta {
  Endpoint endpoint = Endpoint::Completions;
  std::string id;       // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
  bool logprobs = false;  // the request asked for them
};
ResponseMeta make_response_meta(Endpoint endpoint, const std::string& model, bool logprobs);

Json usage_json(int prompt_tokens, int completion_tokens);

// The whole answer of a non-streaming request.
Json response_json(const ResponseMeta& m, const std::string& text, const std::vector<TokenDetail>& tokens,
                   const std::string& finish_reason, int prompt_tokens, int completion_tokens);
// One stream chunk: text (chat: delta.content), and the finish reason on the last one.
Json chunk_json(const ResponseMeta& m, const std::string& text, const std::vector<TokenDetail>& tokens,
                const std::optional<std::string>& finish_reason);
// The chat stream's first chunk: delta {"role": "assistant", "content": ""}.
Json chat_role_chunk_json(const ResponseMeta& m);
// stream_options.include_usage: the chunk after the last, with empty choices.
Json usage_chunk_json(const ResponseMeta& m, int prompt_tokens, int completion_tokens);

Json model_list_json(const std::vector<ModelListing>& models);

// "data: <json>\n\n" (invalid UTF-8 in generated text becomes U+FFFD, so the
// line is always valid JSON).
std::string sse_event(const Json& j);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";
// A JSON text that never throws on invalid UTF-8.
std::string dump_json(const Json& j);

}  // namespace qinfer::serve
