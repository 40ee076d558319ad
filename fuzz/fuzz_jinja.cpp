// libFuzzer target for the template language: the input is a template
// source; it is lexed, parsed, folded and, when it parses, rendered over a
// chat conversation with tools. Whatever the bytes, the result must be a
// string or a jinja::TemplateError — never a crash, UB, another exception or
// a hang (the render limits stop runaway loops and recursion).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "qinfer/jinja/template.h"
#include "qinfer/jinja/unicode.h"

using namespace qinfer::jinja;

namespace {

const nlohmann::ordered_json& variables() {
  static const nlohmann::ordered_json v = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content": "Hello! Tell me about a café in Zürich 🐈."},
      {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 3}}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21.5}"},
      {"role": "user", "content": [{"type": "text", "text": "and tomorrow?"}, {"type": "image"}]}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "documents": null, "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"
  })");
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  RenderOptions o;
  o.limits.max_steps = 200000;
  o.limits.max_output_bytes = 1 << 20;
  o.limits.max_call_depth = 64;
  o.strftime_now = [](const std::string& f) { return f; };
  try {
    const Template t(source);
    const std::string out = t.render(variables(), o);
    if (!valid_utf8(out)) {
      std::fprintf(stderr, "fuzz_jinja: rendering is not valid UTF-8\n");
      std::abort();
    }
  } catch (const TemplateError&) {
    // a clear error is the right answer to a bad template
  }
  return 0;
}
