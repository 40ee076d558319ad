// The server's pure parts: the request parser (every bad field is a 400
// naming it), the text stream (UTF-8 never split, stop strings never sent,
// also across token boundaries and on real vocabularies whose byte tokens
// split characters), and the response shapes.
#include <gtest/gtest.h>

#include <random>

#include "qinfer/jinja/unicode.h"
#include "qinfer/model/model.h"
#include "qinfer/serve/api_error.h"
#include "qinfer/serve/openai_json.h"
#include "qinfer/serve/request.h"
#include "qinfer/serve/text_stream.h"
#include "qinfer/tokenizer/tokenizer.h"
#include "test_util.h"

using namespace qinfer;
using namespace qinfer::serve;

namespace {

GenerationRequest chat(const std::string& body) { return parse_generation_request(body, Endpoint::ChatCompletions); }
GenerationRequest completion(const std::string& body) { return parse_generation_request(body, Endpoint::Completions); }

// The 400 a body gets, with the field it names.
ApiError refusal(const std::string& body, Endpoint e) {
  try {
    parse_generation_request(body, e);
  } catch (const ApiError& err) {
    return err;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "");
}

}  // namespace

TEST(ServeRequest, CompletionFields) {
  const GenerationRequest r = completion(R"({"model":"m","prompt":"Once","max_tokens":5,"temperature":0,"top_p":0.5,
      "top_k":3,"seed":7,"stop":["a","bc"],"stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,
      "min_tokens":5,"logprobs":2,"echo":true,"unknown_field":{"x":1}})");
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.prompt, "Once");
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_EQ(*r.temperature, 0.0f);
  EXPECT_EQ(*r.top_p, 0.5f);
  EXPECT_EQ(*r.top_k, 3);
  EXPECT_EQ(*r.seed, 7u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.stream && r.include_usage && r.ignore_eos && r.echo);
  EXPECT_EQ(r.logprobs, 2);
  EXPECT_EQ(r.top_logprobs, 2);
  // Defaults: no limit, server sampling, no stop strings.
  const GenerationRequest d = completion(R"({"prompt":["x"]})");
  EXPECT_EQ(d.max_tokens, -1);
  EXPECT_FALSE(d.temperature || d.seed || d.stream);
  EXPECT_EQ(d.prompt, "x");
  EXPECT_EQ(completion(R"({"prompt":"x","stop":"\n","max_tokens":null})").stop, std::vector<std::string>{"\n"});
}

TEST(ServeRequest, ChatMessagesAndParts) {
  const GenerationRequest r = chat(R"({"messages":[{"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
      {"role":"assistant","content":null,"tool_calls":[]}],"max_completion_tokens":9,"logprobs":true,"top_logprobs":3})");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1]["content"], "a\nb");
  EXPECT_TRUE(r.messages[2]["content"].is_null());
  EXPECT_TRUE(r.messages[2].contains("tool_calls"));
  EXPECT_EQ(r.max_tokens, 9);
  EXPECT_EQ(r.logprobs, 0);
  EXPECT_EQ(r.top_logprobs, 3);
}

TEST(ServeRequest, EveryBadFieldIsA400NamingIt) {
  const struct {
    Endpoint e;
    const char* body;
    const char* param;
  } kCases[] = {
      {Endpoint::Completions, R"({"prompt":"x","max_tokens":0})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt":"x","max_tokens":"5"})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt":"x","max_tokens":1.5})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt":"x","max_tokens":99999999999999999999})", "max_tokens"},
      {Endpoint::Completions, R"({"prompt":"x","temperature":-1})", "temperature"},
      {Endpoint::Completions, R"({"prompt":"x","temperature":"hot"})", "temperature"},
      {Endpoint::Completions, R"({"prompt":"x","top_p":1.5})", "top_p"},
      {Endpoint::Completions, R"({"prompt":"x","top_k":-2})", "top_k"},
      {Endpoint::Completions, R"({"prompt":"x","stop":5})", "stop"},
      {Endpoint::Completions, R"({"prompt":"x","stop":[""]})", "stop"},
      {Endpoint::Completions, R"({"prompt":"x","stop":["a",1]})", "stop"},
      {Endpoint::Completions, R"({"prompt":"x","stream":"yes"})", "stream"},
      {Endpoint::Completions, R"({"prompt":"x","stream_options":{"include_usage":true}})", "stream_options"},
      {Endpoint::Completions, R"({"prompt":"x","n":2})", "n"},
      {Endpoint::Completions, R"({"prompt":"x","presence_penalty":0.5})", "presence_penalty"},
      {Endpoint::Completions, R"({"prompt":"x","logit_bias":{"1":2}})", "logit_bias"},
      {Endpoint::Completions, R"({"prompt":"x","logprobs":9})", "logprobs"},
      {Endpoint::Completions, R"({"prompt":"x","min_tokens":3})", "min_tokens"},
      {Endpoint::Completions, R"({"prompt":"x","model":3})", "model"},
      {Endpoint::Completions, R"({"prompt":["a","b"]})", "prompt"},
      {Endpoint::Completions, R"({"prompt":17})", "prompt"},
      {Endpoint::Completions, R"({})", "prompt"},
      {Endpoint::ChatCompletions, R"({})", "messages"},
      {Endpoint::ChatCompletions, R"({"messages":[]})", "messages"},
      {Endpoint::ChatCompletions, R"({"messages":"hi"})", "messages"},
      {Endpoint::ChatCompletions, R"({"messages":[5]})", "messages[0]"},
      {Endpoint::ChatCompletions, R"({"messages":[{"content":"x"}]})", "messages[0].role"},
      {Endpoint::ChatCompletions, R"({"messages":[{"role":"user","content":"x"},{"role":"wizard","content":"y"}]})", "messages[1].role"},
      {Endpoint::ChatCompletions, R"({"messages":[{"role":"user","content":7}]})", "messages[0].content"},
      {Endpoint::ChatCompletions, R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages[0].content"},
      {Endpoint::ChatCompletions, R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs"},
      {Endpoint::ChatCompletions, R"({"messages":[{"role":"user","content":"x"}],"tools":{}})", "tools"},
      {Endpoint::ChatCompletions, R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})", "response_format"},
  };
  for (const auto& c : kCases) {
    const ApiError e = refusal(c.body, c.e);
    EXPECT_EQ(e.status(), 400) << c.body;
    EXPECT_EQ(e.param(), c.param) << c.body << ": " << e.what();
    EXPECT_EQ(e.type(), "invalid_request_error");
    EXPECT_NE(std::string(e.what()).find(c.param), std::string::npos) << e.what();
  }
  for (const char* body : {"", "{", "[1,2]", "\"text\"", "{\"prompt\":\"\xff\"}", "null"})
    EXPECT_EQ(refusal(body, Endpoint::Completions).status(), 400) << body;
}

TEST(ServeRequest, ErrorBodyIsOpenAiShaped) {
  ApiError e(404, "model 'x' not found; this server has: a", "model", "", "model_not_found");
  const auto j = nlohmann::json::parse(error_body(e));
  EXPECT_EQ(j["error"]["message"], "model 'x' not found; this server has: a");
  EXPECT_EQ(j["error"]["type"], "not_found_error");
  EXPECT_EQ(j["error"]["param"], "model");
  EXPECT_EQ(j["error"]["code"], "model_not_found");
  // Client bytes quoted in a message never break the JSON.
  EXPECT_NO_THROW(nlohmann::json::parse(error_body(400, "bad \xff\xfe bytes")));
}

// --- TextStream ---------------------------------------------------------------

namespace {

// Feeds the pieces; returns what was sent, chunk by chunk, then the finish.
std::vector<std::string> stream_all(TextStream& s, const std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  for (const std::string& p : pieces) {
    out.push_back(s.push(p));
    if (s.stopped()) break;
  }
  out.push_back(s.finish());
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x;
  return s;
}

}  // namespace

TEST(ServeTextStream, HoldsIncompleteCharacters) {
  TextStream s;
  // "é" = C3 A9, "€" = E2 82 AC, "🐈" = F0 9F 90 88, cut at every byte.
  const auto out = stream_all(s, {"a\xC3", "\xA9\xE2", "\x82", "\xAC\xF0\x9F", "\x90", "\x88z"});
  EXPECT_EQ(joined(out), "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x90\x88z");
  for (const std::string& chunk : out) EXPECT_TRUE(jinja::valid_utf8(chunk)) << chunk;
  EXPECT_EQ(out[0], "a");
  EXPECT_EQ(out[1], "\xC3\xA9");
  // Bytes that can never become a character are not held forever.
  TextStream bad;
  EXPECT_EQ(bad.push("\xC3" "A"), "\xC3" "A");
  EXPECT_EQ(bad.push("\xFF"), "\xFF");
  TextStream tail;
  EXPECT_EQ(tail.push("x\xE2\x82"), "x");
  EXPECT_EQ(tail.finish(), "\xE2\x82");
}

TEST(ServeTextStream, StopStringsAcrossTokensAreNeverSent) {
  TextStream s({"END", "\n\n"});
  EXPECT_EQ(s.push("Hello E"), "Hello ");  // "E" may start "END"
  EXPECT_EQ(s.push("N"), "");
  EXPECT_EQ(s.push("Dless"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.matched_stop(), "END");
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.finish(), "");
  // A held prefix that turns out not to be a stop is text after all.
  TextStream t({"END"});
  EXPECT_EQ(t.push("EN"), "");
  EXPECT_EQ(t.push("d"), "ENd");
  EXPECT_EQ(t.push("E"), "");
  EXPECT_EQ(t.finish(), "E");
  // The earliest match wins; text before it in the same token is sent.
  TextStream u({"bc", "ab"});
  EXPECT_EQ(u.push("xabc"), "x");
  EXPECT_EQ(u.matched_stop(), "ab");
  // A multi-byte stop string split inside its characters.
  TextStream v({"\xE2\x82\xAC!"});
  EXPECT_EQ(v.push("9\xE2"), "9");
  EXPECT_EQ(v.push("\x82\xAC"), "");
  EXPECT_EQ(v.push("!"), "");
  EXPECT_TRUE(v.stopped());
}

// Random texts cut at random byte positions, random stop strings: what is
// sent is exactly the text up to the first stop (or all of it), every chunk
// ends on a character boundary, and no chunk holds a stop string.
TEST(ServeTextStream, RandomCutsMatchTheReference) {
  std::mt19937 rng(1234);
  const std::vector<std::string> alphabet = {"a", "b", " ", "\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x90\x88"};
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text;
    const int n = int(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    std::vector<std::string> stops;
    for (int k = int(rng() % 3); k > 0; --k) {
      std::string st;
      for (int i = 1 + int(rng() % 3); i > 0; --i) st += alphabet[rng() % alphabet.size()];
      stops.push_back(st);
    }
    size_t first = std::string::npos;
    for (const auto& st : stops) first = std::min(first, text.find(st));
    const std::string expect = text.substr(0, first);
    std::vector<std::string> pieces;
    for (size_t at = 0; at < text.size();) {
      const size_t len = 1 + rng() % 5;
      pieces.push_back(text.substr(at, len));
      at += len;
    }
    TextStream s(stops);
    const auto out = stream_all(s, pieces);
    ASSERT_EQ(joined(out), expect) << "trial " << trial;
    for (const std::string& chunk : out) {
      ASSERT_TRUE(jinja::valid_utf8(chunk)) << "trial " << trial;
      for (const auto& st : stops) ASSERT_EQ(chunk.find(st), std::string::npos);
    }
    EXPECT_EQ(s.stopped(), first != std::string::npos);
  }
}

// Real vocabularies whose byte tokens split characters (SPM byte fallback,
// byte-level BPE): the tokens of a multilingual text, streamed one by one,
// come out whole and in order.
TEST(ServeTextStream, RealVocabulariesNeverSplitCharacters) {
  const std::string text = "Zürich café — 東京 🐈 naïve ñ € ü";
  int tested = 0;
  for (const char* name : {"llama-spm", "gpt-2", "deepseek-llm", "falcon"}) {
    const std::string path = test::data_path(std::string("vocab/ggml-vocab-") + name + ".gguf");
    if (!std::filesystem::exists(path)) continue;
    auto tok = load_tokenizer(path);
    const std::vector<int32_t> ids = tok->encode(text, false, false);
    std::vector<std::string> pieces;
    bool split = false;
    for (int32_t id : ids) {
      pieces.push_back(tok->token_to_piece(id, false));
      split = split || !jinja::valid_utf8(pieces.back());
    }
    EXPECT_TRUE(split) << name << ": no token splits a character; the test proves nothing here";
    TextStream s;
    const auto out = stream_all(s, pieces);
    for (const std::string& chunk : out) EXPECT_TRUE(jinja::valid_utf8(chunk)) << name;
    EXPECT_EQ(joined(out), joined(pieces)) << name;
    EXPECT_NE(joined(out).find(text), std::string::npos) << name;  // (SPM adds a leading space)
    ++tested;
  }
  if (tested == 0) GTEST_SKIP() << "no vocabularies in ../shared/data/vocab";
}

TEST(ServeJson, ShapesAndInvalidUtf8) {
  ResponseMeta m = make_response_meta(Endpoint::ChatCompletions, "mod", false);
  const Json whole = response_json(m, "hi", {}, "stop", 3, 2);
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(whole["usage"]["total_tokens"], 5);
  const std::string ev = sse_event(chunk_json(m, "bad \xC3", {}, std::nullopt));
  ASSERT_EQ(ev.rfind("data: ", 0), 0u);
  ASSERT_EQ(ev.substr(ev.size() - 2), "\n\n");
  const auto j = nlohmann::json::parse(ev.substr(6));
  EXPECT_EQ(j["choices"][0]["delta"]["content"], "bad \xEF\xBF\xBD");
  EXPECT_EQ(j["object"], "chat.completion.chunk");
  m = make_response_meta(Endpoint::Completions, "mod", true);
  const Json c = response_json(m, "ab", {{"a", -0.5f, {{"a", -0.5f}, {"b", -1.0f}}}, {"b", -0.25f, {}}}, "length", 1, 2);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["logprobs"]["tokens"], Json::array({"a", "b"}));
  EXPECT_EQ(c["choices"][0]["logprobs"]["text_offset"], Json::array({0, 1}));
  EXPECT_EQ(c["choices"][0]["finish_reason"], "length");
}
