// Reading an OpenAI-compatible streaming response (server-sent events), apart
// from the network so it can be tested on byte strings: bytes arrive in
// arbitrary pieces, each complete `data:` line is one message, `[DONE]` ends
// the stream, and a message with non-empty `choices` is one output chunk
// (vLLM's client counts the same way).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qinfer::bench {

// Splits a byte stream into SSE lines and returns the payloads of complete
// `data:` lines. Comments (`:`), `event:`, `id:`, `retry:` and blank lines are
// skipped; any other line throws qinfer::Error("malformed SSE line: ...").
class SseLineReader {
 public:
  std::vector<std::string> feed(std::string_view bytes);
  // Bytes of an unfinished last line (after the stream ended: a truncated message).
  const std::string& pending() const { return buf_; }

 private:
  std::string buf_;
};

// What one `data:` payload of a completions or chat-completions stream says.
struct StreamEvent {
  bool done = false;        // the `[DONE]` sentinel
  bool has_output = false;  // non-empty `choices`: counts as a chunk
  bool finished = false;    // choices[0].finish_reason is set
  std::string text;         // choices[0].text or choices[0].delta.content
  std::optional<int> prompt_tokens;      // usage.prompt_tokens when present
  std::optional<int> completion_tokens;  // usage.completion_tokens when present
};

// Parses one payload; throws qinfer::Error for non-JSON text, a JSON that is
// not an object, or an `{"error": ...}` object (with the server's message).
StreamEvent parse_stream_event(std::string_view payload);

}  // namespace qinfer::bench
