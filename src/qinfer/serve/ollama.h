// Ollama's simple API, as small local deployments and their clients use it:
// POST /api/chat (request fields and the NDJSON stream of message chunks
// ending in a "done": true line with durations in nanoseconds), and the
// shapes of GET /api/models (every known model, loaded or not) and GET
// /api/health. Pure functions: the server routes /api/chat through the same
// validation and generation as /v1/chat/completions by translating the
// request, and only the output shape differs.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qinfer::serve {

// An Ollama /api/chat body as the equivalent OpenAI chat-completions body:
// model, messages (role + content; images are refused), stream (Ollama's
// default is true), tools, and options → temperature, top_p, top_k, min_p,
// seed, num_predict → max_tokens (-1: until stop or the context is full;
// -2 as Ollama's "fill the context" too), stop, presence_penalty,
// frequency_penalty, repeat_penalty. Throws InputError naming the field for a
// body that is not an object, a field of the wrong type, images, or a
// `format` (structured output is not supported). Unknown options and
// keep_alive are accepted and ignored, as Ollama does.
nlohmann::json ollama_chat_to_openai(const nlohmann::json& body);

// RFC 3339 time in UTC with nanoseconds, as Ollama's created_at:
// "2026-12-01T04:30:55.123456789Z". `unix_ns`: nanoseconds since the epoch.
std::string rfc3339_utc(int64_t unix_ns);

// One streamed line's object: {"model","created_at","message":{"role":
// "assistant","content"},"done":false}.
nlohmann::json ollama_chat_chunk(const std::string& model, int64_t unix_ns, const std::string& content);

// What the last line (or the whole non-streamed answer) reports.
struct OllamaDone {
  std::string content;        // the whole answer for a non-streamed reply; "" in the stream's last line
  std::string done_reason;    // "stop" or "length"
  int64_t total_ns = 0;       // request received → done
  int64_t load_ns = 0;        // loading the model, when this request loaded it
  int prompt_eval_count = 0;  // prompt tokens
  int64_t prompt_eval_ns = 0;
  int eval_count = 0;         // generated tokens
  int64_t eval_ns = 0;
};
nlohmann::json ollama_chat_done(const std::string& model, int64_t unix_ns, const OllamaDone& done);

// Ollama's error body: {"error": "..."}.
nlohmann::json ollama_error(const std::string& message);

// One row of GET /api/models (Ollama's /api/tags shape plus `loaded`).
struct ModelCard {
  std::string id;
  std::vector<std::string> aliases;
  std::string path;
  uint64_t size = 0;           // file bytes
  int64_t modified_unix_ns = 0;
  bool loaded = false;
  uint64_t resident_bytes = 0;
  std::string architecture;     // general.architecture ("llama"); "" when unreadable
  std::string quantization;     // file type name ("Q4_0")
  int64_t parameters = 0;
  int context_length = 0;
  std::string error;            // why the header could not be read, else ""
};
// "1.1B", "260K", "7.2M": Ollama's parameter_size.
std::string parameter_size_text(int64_t n);
nlohmann::json ollama_models(const std::vector<ModelCard>& models);

}  // namespace qinfer::serve
