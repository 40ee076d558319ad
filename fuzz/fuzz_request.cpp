// libFuzzer target for the server's request parsers: the input is a request
// body, parsed as /v1/completions, as /v1/chat/completions and as Ollama's
// /api/chat (turned into a chat request as its route does). Whatever the
// bytes, the result is a GenerationRequest whose fields are in their ranges,
// or an ApiError with status 400 (an InputError from the Ollama conversion)
// — never a crash, UB, another exception or a hang.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "qinfer/core/error.h"
#include "qinfer/serve/api_error.h"
#include "qinfer/serve/ollama.h"
#include "qinfer/serve/request.h"

using namespace qinfer::serve;

namespace {

void fail(const char* why) {
  std::fprintf(stderr, "fuzz_request: %s\n", why);
  std::abort();
}

// The request `body` gives on endpoint `e`, checked; a 400 is fine.
void check_parse(std::string_view body, Endpoint e) {
  try {
    const GenerationRequest r = parse_generation_request(body, e);
    if (r.max_tokens == 0 || r.max_tokens < -1) fail("max_tokens out of range");
    if (r.stop.size() > kMaxStopStrings) fail("too many stop strings");
    for (const auto& s : r.stop)
      if (s.empty()) fail("an empty stop string");
    if (r.temperature && !(*r.temperature >= 0 && *r.temperature <= 2)) fail("temperature out of range");
    if (r.top_p && !(*r.top_p >= 0 && *r.top_p <= 1)) fail("top_p out of range");
    if (r.top_logprobs < 0 || r.top_logprobs > 20) fail("top_logprobs out of range");
    if (e == Endpoint::ChatCompletions) {
      if (!r.messages.is_array() || r.messages.empty()) fail("chat request without messages");
      for (const auto& m : r.messages)
        if (!m["role"].is_string() || !(m["content"].is_string() || m["content"].is_null())) fail("message not normalized");
    }
    (void)error_body(ApiError(400, std::string(body.substr(0, 64))));  // messages may quote bytes
  } catch (const ApiError& err) {
    if (err.status() != 400) fail("a status other than 400");
    (void)error_body(err);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (Endpoint e : {Endpoint::Completions, Endpoint::ChatCompletions}) check_parse(body, e);
  const nlohmann::json ollama = nlohmann::json::parse(body, nullptr, false);
  if (ollama.is_discarded()) return 0;  // the route answers 400 before converting
  std::string chat;
  try {
    chat = ollama_chat_to_openai(ollama).dump();
  } catch (const qinfer::InputError& err) {
    (void)ollama_error(err.what());
    return 0;
  }
  check_parse(chat, Endpoint::ChatCompletions);
  return 0;
}
