// Ollama's /api/chat request translated to the OpenAI body the server
// validates, the NDJSON line shapes, and the /api/models listing shape.
#include <gtest/gtest.h>

#include "qinfer/core/error.h"
#include "qinfer/serve/ollama.h"

namespace qinfer::serve {
namespace {

using nlohmann::json;

TEST(ServeOllama, ChatRequestBecomesOpenAI) {
  json body = json::parse(R"({
    "model": "tiny", "keep_alive": "5m",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi", "images": []}],
    "options": {"temperature": 0.2, "top_p": 0.9, "top_k": 20, "min_p": 0.01, "seed": 42, "num_predict": 16,
                "stop": ["\n\n", "User:"], "repeat_penalty": 1.1, "presence_penalty": 0.5,
                "frequency_penalty": 0.25, "num_ctx": 2048, "mirostat": 0}
  })");
  json want = json::parse(R"({
    "model": "tiny", "stream": true,
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    "temperature": 0.2, "top_p": 0.9, "top_k": 20, "min_p": 0.01, "seed": 42, "max_tokens": 16,
    "stop": ["\n\n", "User:"], "repeat_penalty": 1.1, "presence_penalty": 0.5, "frequency_penalty": 0.25
  })");
  EXPECT_EQ(ollama_chat_to_openai(body), want);
}

TEST(ServeOllama, DefaultsAndUnlimitedPrediction) {
  json out = ollama_chat_to_openai(json::parse(R"({"messages": [], "stream": false, "options": {"num_predict": -1}})"));
  EXPECT_EQ(out, json::parse(R"({"messages": [], "stream": false})"));
  out = ollama_chat_to_openai(json::parse(R"({"messages": [{"role":"user","content":"x"}], "options": {"num_predict": -2, "stop": "END"}})"));
  EXPECT_EQ(out["stream"], true) << "Ollama streams unless told not to";
  EXPECT_FALSE(out.contains("max_tokens"));
  EXPECT_EQ(out["stop"], "END");
  EXPECT_FALSE(out.contains("model")) << "no model: the server's default";
}

TEST(ServeOllama, BadRequestsNameTheField) {
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {R"([1])", "/api/chat: the body must be a JSON object"},
      {R"({})", "/api/chat: 'messages' is required"},
      {R"({"messages": {}})", "/api/chat: 'messages' must be an array, got object"},
      {R"({"messages": ["hi"]})", "/api/chat: 'messages[0]' must be an object, got string"},
      {R"({"model": 3, "messages": []})", "/api/chat: 'model' must be a string, got number"},
      {R"({"messages": [], "stream": "yes"})", "/api/chat: 'stream' must be a boolean, got string"},
      {R"({"messages": [], "options": []})", "/api/chat: 'options' must be an object, got array"},
      {R"({"messages": [], "options": {"temperature": "hot"}})", "/api/chat: 'options.temperature' must be a number, got string"},
      {R"({"messages": [], "options": {"top_k": 1.5}})", "/api/chat: 'options.top_k' must be an integer, got number"},
      {R"({"messages": [], "options": {"num_predict": -3}})", "/api/chat: 'options.num_predict' must be >= -2, got -3"},
      {R"({"messages": [], "options": {"stop": [1]}})", "/api/chat: 'options.stop[]' must be a string, got number"},
      {R"({"messages": [], "options": {"stop": 5}})", "/api/chat: 'options.stop' must be a string or an array of strings, got number"},
      {R"({"messages": [{"role":"user","content":"x","images":["aGk="]}]})", "/api/chat: messages[0].images: images are not supported by this server"},
      {R"({"messages": [], "format": "json"})", "/api/chat: 'format' (structured output) is not supported by this server"},
      {R"({"messages": [], "tools": {}})", "/api/chat: 'tools' must be an array, got object"},
  };
  for (const Case& c : cases) {
    try {
      ollama_chat_to_openai(json::parse(c.body));
      ADD_FAILURE() << "accepted: " << c.body;
    } catch (const InputError& e) {
      EXPECT_STREQ(e.what(), c.message) << c.body;
    }
  }
}

TEST(ServeOllama, StreamLinesAndFinalLine) {
  const int64_t t = 1764563455123456789;  // 2025-12-01T04:30:55.123456789Z
  EXPECT_EQ(rfc3339_utc(t), "2025-12-01T04:30:55.123456789Z");
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(rfc3339_utc(-1), "1969-12-31T23:59:59.999999999Z");
  json chunk = ollama_chat_chunk("tiny", t, "Hel\"lo\n");
  EXPECT_EQ(chunk.dump(), R"({"created_at":"2025-12-01T04:30:55.123456789Z","done":false,"message":{"content":"Hel\"lo\n","role":"assistant"},"model":"tiny"})");
  OllamaDone d;
  d.done_reason = "length";
  d.total_ns = 5'000'000'000;
  d.load_ns = 1'000'000;
  d.prompt_eval_count = 12;
  d.prompt_eval_ns = 200'000'000;
  d.eval_count = 16;
  d.eval_ns = 800'000'000;
  json done = ollama_chat_done("tiny", t, d);
  EXPECT_EQ(done["done"], true);
  EXPECT_EQ(done["done_reason"], "length");
  EXPECT_EQ(done["message"]["content"], "");
  EXPECT_EQ(done["eval_count"], 16);
  EXPECT_EQ(done["eval_duration"], 800'000'000);
  EXPECT_EQ(done["prompt_eval_count"], 12);
  EXPECT_EQ(done["total_duration"], 5'000'000'000);
  EXPECT_EQ(done["load_duration"], 1'000'000);
  // One line of NDJSON: the dump has no raw newline even when content has one.
  EXPECT_EQ(chunk.dump().find('\n'), std::string::npos);
  EXPECT_EQ(ollama_error("model 'x' not found").dump(), R"({"error":"model 'x' not found"})");
}

TEST(ServeOllama, ModelsListingShape) {
  ModelCard m;
  m.id = "tiny-q4_0";
  m.aliases = {"tiny"};
  m.path = "/models/tiny-q4_0.gguf";
  m.size = 636'000'000;
  m.loaded = true;
  m.resident_bytes = 700'000'000;
  m.architecture = "llama";
  m.quantization = "Q4_0";
  m.parameters = 1'100'048'384;
  m.context_length = 2048;
  json j = ollama_models({m});
  ASSERT_EQ(j["models"].size(), 1u);
  const json& row = j["models"][0];
  EXPECT_EQ(row["name"], "tiny-q4_0");
  EXPECT_EQ(row["model"], "tiny-q4_0");
  EXPECT_EQ(row["size"], 636'000'000);
  EXPECT_EQ(row["loaded"], true);
  EXPECT_EQ(row["details"]["format"], "gguf");
  EXPECT_EQ(row["details"]["family"], "llama");
  EXPECT_EQ(row["details"]["parameter_size"], "1.1B");
  EXPECT_EQ(row["details"]["quantization_level"], "Q4_0");
  EXPECT_FALSE(row.contains("error"));
}

TEST(ServeOllama, ParameterSizes) {
  EXPECT_EQ(parameter_size_text(260'000), "260K");
  EXPECT_EQ(parameter_size_text(1'100'048'384), "1.1B");
  EXPECT_EQ(parameter_size_text(7'241'732'096), "7.2B");
  EXPECT_EQ(parameter_size_text(8'000'000'000), "8B");
  EXPECT_EQ(parameter_size_text(15'200'000), "15.2M");
  EXPECT_EQ(parameter_size_text(999), "999");
  EXPECT_EQ(parameter_size_text(70'553'706'496), "70.6B");
}

}  // namespace
}  // namespace qinfer::serve
