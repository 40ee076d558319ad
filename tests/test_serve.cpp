// `qinfer serve` end to end on 127.0.0.1: the OpenAI endpoints, streaming,
// greedy output equal to `qinfer run --temp 0` (alone and 8 at once), stop
// strings, every error status, the queue limit, a client that goes away
// (its sequence is cancelled and its KV blocks freed, streamed or not), 200 connections at
// once, UTF-8 on a vocabulary whose tokens split characters, and SIGTERM
// draining a child process. Slow clients: test_serve_timeouts.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "cli_runner.h"
#include "qinfer/jinja/unicode.h"
#include "qinfer/model/create.h"
#include "qinfer/serve/openai_json.h"
#include "serve_test_util.h"

using namespace qinfer;
using namespace qinfer::test;
using Json = nlohmann::json;

namespace {

const char* kStories = "models/stories260K/stories260K.gguf";

std::shared_ptr<serve::ModelHandle> stories(int parallel = 8, int n_ctx = 0) {
  serve::ModelLoadOptions o;
  o.threads = 2;
  o.engine.max_seqs = parallel;
  o.engine.n_ctx = n_ctx;
  return serve::make_model_handle("stories260K", load_model(data_path(kStories)), o);
}

Json post_json(httplib::Client& c, const std::string& path, const Json& body, int expect_status = 200) {
  auto r = c.Post(path, body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << "no response from " << path << ": " << httplib::to_string(r.error());
    return {};
  }
  EXPECT_EQ(r->status, expect_status) << r->body;
  Json j = Json::parse(r->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r->body;
  return j;
}

// The text of a stream, checking every payload is JSON and it ends in [DONE].
struct StreamResult {
  std::string text;
  std::string finish_reason;
  Json usage;
  int chunks = 0;
  bool role_first = false;
};
StreamResult read_stream(const std::string& body, bool chat) {
  StreamResult s;
  const auto payloads = sse_payloads(body);
  EXPECT_FALSE(payloads.empty());
  if (payloads.empty()) return s;
  EXPECT_EQ(payloads.back(), "[DONE]");
  for (size_t i = 0; i + 1 < payloads.size(); ++i) {
    const Json j = Json::parse(payloads[i], nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << payloads[i];
    if (j.is_discarded()) continue;
    EXPECT_FALSE(j.contains("error")) << payloads[i];
    if (j.contains("usage") && !j["usage"].is_null()) s.usage = j["usage"];
    if (j["choices"].empty()) continue;
    const Json& c = j["choices"][0];
    if (chat) {
      EXPECT_EQ(j["object"], "chat.completion.chunk");
      if (i == 0) s.role_first = c["delta"].value("role", "") == "assistant";
      if (c["delta"].contains("content")) s.text += c["delta"]["content"].get<std::string>();
    } else {
      EXPECT_EQ(j["object"], "text_completion");
      s.text += c["text"].get<std::string>();
    }
    if (!c["finish_reason"].is_null()) s.finish_reason = c["finish_reason"];
    ++s.chunks;
  }
  return s;
}

std::string run_greedy(const std::string& prompt, int n) {
  const CliResult r = run_qinfer("run -m " + data_path(kStories) + " -t 1 --temp 0 --no-stats -n " + std::to_string(n) +
                                 " -p '" + prompt + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

}  // namespace

TEST(Serve, ModelsHealthAndUnknownPaths) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories());
  auto c = s.client();
  auto r = c->Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const Json m = Json::parse(r->body);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "stories260K");
  EXPECT_EQ(m["data"][0]["object"], "model");
  r = c->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body)["status"], "ok");
  r = c->Get("/v1/nothing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  const Json e = Json::parse(r->body);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("POST /v1/chat/completions"), std::string::npos) << r->body;
}

// Greedy output through the server equals `qinfer run --temp 0` token for
// token, for one request and for 8 at once (batched in one engine).
TEST(Serve, GreedyEqualsRunAloneAndEightAtOnce) {
  QINFER_REQUIRE_DATA(kStories);
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog", "Lily and Ben went", "One day, a girl",
                                            "The sun was", "Tom had a red ball", "In the park there", "She said"};
  const int n = 40;
  std::vector<std::string> expect;
  for (const auto& p : prompts) expect.push_back(run_greedy(p, n));
  TestServer s(stories());
  const auto complete = [&](size_t i) {
    auto c = s.client();
    const Json j = post_json(*c, "/v1/completions", {{"prompt", prompts[i]}, {"max_tokens", n}, {"temperature", 0}});
    return prompts[i] + j["choices"][0]["text"].get<std::string>() + "\n";
  };
  EXPECT_EQ(complete(0), expect[0]);
  std::vector<std::future<std::string>> all;
  for (size_t i = 0; i < prompts.size(); ++i) all.push_back(std::async(std::launch::async, complete, i));
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(all[i].get(), expect[i]) << prompts[i];
}

// Chat: the same prompt as `qinfer run --chat` builds (template or fallback).
TEST(Serve, ChatGreedyEqualsRunChat) {
  QINFER_REQUIRE_DATA(kStories);
  const CliResult run = run_qinfer("run -m " + data_path(kStories) +
                                   " -t 1 --temp 0 --no-stats -n 30 --chat --system 'Be kind.' -p 'Tell me a story'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  TestServer s(stories());
  auto c = s.client();
  const Json j = post_json(*c, "/v1/chat/completions",
                           {{"messages", Json::array({{{"role", "system"}, {"content", "Be kind."}},
                                                      {{"role", "user"}, {"content", "Tell me a story"}}})},
                            {"max_tokens", 30},
                            {"temperature", 0}});
  EXPECT_EQ(j["choices"][0]["message"]["content"].get<std::string>() + "\n", run.out);
}

// Greedy picks the most likely token: each token's logprob is the first of
// its alternatives, which are sorted and are log-probabilities.
TEST(Serve, LogprobsOfGreedyTokens) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories());
  auto c = s.client();
  const Json chat = post_json(*c, "/v1/chat/completions",
                              {{"messages", Json::array({{{"role", "user"}, {"content", "Hi"}}})},
                               {"max_tokens", 6}, {"temperature", 0}, {"logprobs", true}, {"top_logprobs", 3}});
  const Json& content = chat["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), chat["usage"]["completion_tokens"].get<size_t>());
  std::string joined;
  for (const Json& t : content) {
    joined += t["token"].get<std::string>();
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);
    EXPECT_FLOAT_EQ(t["top_logprobs"][0]["logprob"].get<float>(), t["logprob"].get<float>());
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    EXPECT_GE(t["top_logprobs"][1]["logprob"].get<double>(), t["top_logprobs"][2]["logprob"].get<double>());
  }
  EXPECT_EQ(joined, chat["choices"][0]["message"]["content"]);
  const Json comp = post_json(*c, "/v1/completions",
                              {{"prompt", "Once"}, {"max_tokens", 4}, {"temperature", 0}, {"logprobs", 2}});
  const Json& lp = comp["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"].size(), 4u);
  EXPECT_EQ(lp["token_logprobs"].size(), 4u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
}

TEST(Serve, StreamEqualsWholeAnswerWithExactUsage) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories());
  auto c = s.client();
  for (const bool chat : {false, true}) {
    Json body = {{"max_tokens", 30}, {"temperature", 0}};
    if (chat)
      body["messages"] = Json::array({{{"role", "user"}, {"content", "Tell me a story"}}});
    else
      body["prompt"] = "Once upon a time";
    const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    const Json whole = post_json(*c, path, body);
    const std::string text = chat ? whole["choices"][0]["message"]["content"] : whole["choices"][0]["text"];
    EXPECT_EQ(whole["object"], chat ? "chat.completion" : "text_completion");
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    auto r = c->Post(path, body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
    const StreamResult st = read_stream(r->body, chat);
    EXPECT_EQ(st.text, text);
    EXPECT_EQ(st.finish_reason, whole["choices"][0]["finish_reason"]);
    EXPECT_EQ(st.usage, whole["usage"]);
    EXPECT_EQ(chat, st.role_first);
    const int generated = whole["usage"]["completion_tokens"];
    EXPECT_LE(generated, 30);
    EXPECT_EQ(whole["choices"][0]["finish_reason"], generated == 30 ? "length" : "stop");
  }
}

// A stop string cuts the answer where it starts (never sent), in both forms;
// usage counts the tokens generated up to the one that completed it.
TEST(Serve, StopStringsCutTheText) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories());
  auto c = s.client();
  Json body = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}};
  const std::string full = post_json(*c, "/v1/completions", body)["choices"][0]["text"];
  ASSERT_GT(full.size(), 30u);
  const std::string stop = full.substr(20, 3);
  const std::string expect = full.substr(0, full.find(stop));
  body["stop"] = Json::array({stop, "never appears \x01"});
  const Json j = post_json(*c, "/v1/completions", body);
  EXPECT_EQ(j["choices"][0]["text"], expect);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_LT(j["usage"]["completion_tokens"].get<int>(), 40);
  body["stream"] = true;
  auto r = c->Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  const StreamResult st = read_stream(r->body, false);
  EXPECT_EQ(st.text, expect);
  EXPECT_EQ(st.finish_reason, "stop");
}

TEST(Serve, BadRequestsGetTheirStatusAndTheServerKeepsServing) {
  QINFER_REQUIRE_DATA(kStories);
  serve::ServeOptions o;
  o.max_body = 4096;
  TestServer s(stories(2, 64), o);
  auto c = s.client();
  // Not JSON, wrong field, unknown model (listing the known one).
  auto r = c->Post("/v1/completions", "{not json", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "invalid_request_error");
  EXPECT_EQ(post_json(*c, "/v1/completions", {{"prompt", "x"}, {"temperature", 9}}, 400)["error"]["param"], "temperature");
  const Json nf = post_json(*c, "/v1/chat/completions",
                            {{"model", "gpt-4"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}}, 404);
  EXPECT_NE(nf["error"]["message"].get<std::string>().find("stories260K"), std::string::npos);
  // A prompt longer than the context of 64: by how many tokens.
  std::string longp;
  for (int i = 0; i < 100; ++i) longp += "dog ";
  const Json tl = post_json(*c, "/v1/completions", {{"prompt", longp}}, 400);
  const std::string msg = tl["error"]["message"];
  EXPECT_NE(msg.find("more than the context of 64 tokens"), std::string::npos) << msg;
  EXPECT_EQ(tl["error"]["code"], "context_length_exceeded");
  // A body over --max-body.
  r = c->Post("/v1/completions", Json{{"prompt", std::string(5000, 'a')}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "request_too_large");
  // Still serving.
  c = s.client();
  EXPECT_EQ(post_json(*c, "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 3}})["usage"]["completion_tokens"], 3);
}

TEST(Serve, ApiKey) {
  QINFER_REQUIRE_DATA(kStories);
  serve::ServeOptions o;
  o.api_key = "sekret";
  auto model = stories(2);
  {
    TestServer s(model, o);
    auto c = s.client();
    const Json body = {{"prompt", "Once"}, {"max_tokens", 2}};
    auto r = c->Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(Json::parse(r->body)["error"]["type"], "authentication_error");
    c = s.client();
    c->set_bearer_token_auth("wrong!");
    r = c->Get("/v1/models");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    c = s.client();
    c->set_bearer_token_auth("sekret");
    r = c->Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    c = s.client();
    r = c->Get("/health");  // open without the key
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  o.api_key_all = true;
  TestServer s(model, o);
  auto r = s.client()->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

// One sequence at a time and no queue: a second request while the first
// runs gets 429 with Retry-After; the first is unaffected.
TEST(Serve, FullQueueIs429WithRetryAfter) {
  QINFER_REQUIRE_DATA(kStories);
  serve::ServeOptions o;
  o.max_queue = 0;
  auto model = stories(1);
  TestServer s(model, o);
  std::atomic<bool> started{false};
  auto first = std::async(std::launch::async, [&] {
    auto c = s.client();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = Json{{"prompt", "Once"}, {"max_tokens", 400}, {"ignore_eos", true}, {"stream", true}}.dump();
    req.set_header("Content-Type", "application/json");
    std::string body;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      body.append(d, n);
      started = true;
      return true;
    };
    httplib::Response res;
    httplib::Error err;
    c->send(req, res, err);
    return read_stream(body, false).finish_reason;
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto c = s.client();
  auto r = c->Post("/v1/completions", Json{{"prompt", "Hi"}, {"max_tokens", 2}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Json::parse(r->body)["error"]["type"], "rate_limit_error");
  EXPECT_EQ(first.get(), "length");
}

// The client closes the connection mid-stream: the sequence is cancelled and
// its KV blocks go back to the pool.
TEST(Serve, DisconnectCancelsAndFreesBlocks) {
  QINFER_REQUIRE_DATA(kStories);
  auto model = stories(2);
  TestServer s(model);
  auto c = s.client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = Json{{"prompt", "Once upon a time"}, {"max_tokens", -1}, {"ignore_eos", true}, {"stream", true}}.dump();
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 5; };
  httplib::Response res;
  httplib::Error err;
  c->send(req, res, err);
  c->stop();
  c.reset();
  EXPECT_GE(chunks, 5);
  EngineStats st;
  for (int i = 0; i < 500; ++i) {
    st = model->engine->stats();
    if (st.running == 0 && st.cancelled == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.cancelled, 1);
  EXPECT_EQ(st.blocks_used, 0);
  EXPECT_LT(st.generated_tokens, model->engine->n_ctx());  // stopped well before the context was full
  EXPECT_EQ(model->in_flight.load(), 0);
}

// A client of a whole (non-streamed) answer closes its connection while the
// answer is being generated: nothing is written until the end, so the server
// watches the connection, cancels the sequence and frees its KV blocks long
// before the context would be full. OpenAI's and Ollama's endpoints, on a
// random model that greedy decoding never ends (qinfer create gives special
// tokens zero logits), so only the disconnect can stop it.
TEST(Serve, NonStreamingDisconnectCancels) {
  const auto path = std::filesystem::temp_directory_path() / ("qinfer-serve-endless-" + std::to_string(::getpid()) + ".gguf");
  CreateOptions co;
  co.shape = *find_preset("stories260k");
  co.shape.n_ctx_train = 4096;
  co.type = TypeId::F32;
  co.n_threads = 1;
  create_model(path.string(), co);
  const std::vector<std::pair<std::string, Json>> requests = {
      {"/v1/completions", Json{{"prompt", "Once upon a time"}, {"max_tokens", -1}, {"temperature", 0}}},
      {"/api/chat", Json{{"model", "endless"},
                         {"stream", false},
                         {"messages", Json::array({{{"role", "user"}, {"content", "Once upon a time"}}})},
                         {"options", {{"num_predict", -1}, {"temperature", 0}}}}}};
  for (const auto& [route, body] : requests) {
    SCOPED_TRACE(route);
    serve::ModelLoadOptions lo;
    lo.threads = 1;
    lo.engine.max_seqs = 1;
    lo.engine.n_ctx = 4096;
    auto model = serve::make_model_handle("endless", load_model(path.string()), lo);
    TestServer s(model);
    const int fd = connect_raw(s.port());
    ASSERT_GE(fd, 0);
    const std::string payload = body.dump();
    const std::string http = "POST " + route + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(payload.size()) + "\r\n\r\n" + payload;
    ASSERT_EQ(::send(fd, http.data(), http.size(), 0), ssize_t(http.size()));
    EngineStats st;
    for (int i = 0; i < 2500 && st.generated_tokens == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      st = model->engine->stats();
    }
    ASSERT_GT(st.generated_tokens, 0) << "the request never started";
    ::close(fd);
    for (int i = 0; i < 1000; ++i) {
      st = model->engine->stats();
      if (st.finished + st.cancelled > 0 && st.running == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(st.running, 0);
    EXPECT_EQ(st.cancelled, 1) << "finished on its own after " << st.generated_tokens << " tokens";
    EXPECT_EQ(st.blocks_used, 0);
    EXPECT_LT(st.generated_tokens, model->engine->n_ctx() - 64);
    for (int i = 0; i < 200 && model->in_flight.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(model->in_flight.load(), 0);
  }
  std::filesystem::remove(path);
}

TEST(Serve, TwoHundredConnectionsAtOnce) {
  QINFER_REQUIRE_DATA(kStories);
  serve::ServeOptions o;
  o.max_queue = 1000;
  TestServer s(stories(16, 128), o);
  std::vector<std::future<int>> all;
  for (int i = 0; i < 200; ++i)
    all.push_back(std::async(std::launch::async, [&, i] {
      auto c = s.client(120);
      auto r = c->Post("/v1/completions", Json{{"prompt", "Once " + std::to_string(i)}, {"max_tokens", 4}}.dump(),
                       "application/json");
      return r ? r->status : -1;
    }));
  int ok = 0;
  for (auto& f : all) ok += f.get() == 200;
  EXPECT_EQ(ok, 200);
}

// A random model whose vocabulary is mostly byte tokens, sampled hot: its
// text is full of characters split across tokens (and of bytes that never
// form one). Streamed, every event is valid JSON and the pieces join to the
// whole answer of the same seed, so no character was cut in two.
TEST(Serve, StreamingNeverSplitsACharacter) {
  auto model = random_model("bytes", RandomShape{});
  TestServer s(model);
  auto c = s.client();
  int multibyte = 0;
  for (int seed = 1; seed <= 4; ++seed) {
    Json body = {{"prompt", "a"}, {"max_tokens", 300}, {"ignore_eos", true}, {"temperature", 2.0}, {"top_k", 0},
                 {"top_p", 1.0}, {"min_p", 0.0}, {"seed", seed}};
    const std::string whole = post_json(*c, "/v1/completions", body)["choices"][0]["text"];
    body["stream"] = true;
    auto r = c->Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(r);
    const StreamResult st = read_stream(r->body, false);
    EXPECT_EQ(st.text, whole) << "seed " << seed;
    for (size_t i = 0; i + 1 < whole.size(); ++i) {
      const auto b = static_cast<unsigned char>(whole[i]);
      multibyte += b >= 0xC2 && b < 0xF0 && b != 0xEF;  // a real lead byte (not U+FFFD's EF BF BD)
    }
  }
  EXPECT_GT(multibyte, 0) << "no multi-byte character was generated: the test proves nothing";
}

// SIGTERM: a running stream finishes, new requests get 503, exit code 0.
TEST(Serve, SigtermDrains) {
  QINFER_REQUIRE_DATA(kStories);
  ServeProcess p("-m " + data_path(kStories) + " -t 1 -c 2048 --drain-timeout 60");
  ASSERT_GT(p.port(), 0) << p.log();
  std::atomic<int> chunks{0};
  auto running = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", p.port());
    c.set_read_timeout(60, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = Json{{"prompt", "Once"}, {"max_tokens", 2000}, {"ignore_eos", true}, {"stream", true}}.dump();
    req.set_header("Content-Type", "application/json");
    std::string body;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      body.append(d, n);
      ++chunks;
      return true;
    };
    httplib::Response res;
    httplib::Error err;
    c.send(req, res, err);
    return body;
  });
  while (chunks < 3) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  p.signal(SIGTERM);
  const int at_signal = chunks;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  httplib::Client late("127.0.0.1", p.port());
  auto r = late.Post("/v1/completions", Json{{"prompt", "x"}}.dump(), "application/json");
  if (r) {
    EXPECT_EQ(r->status, 503);  // (or refused: the drain may already be over)
  }
  const StreamResult st = read_stream(running.get(), false);
  EXPECT_EQ(st.finish_reason, "length");
  EXPECT_GT(chunks, at_signal + 10);  // it was still running when the signal came
  EXPECT_EQ(p.wait_exit(), 0) << p.log();
  EXPECT_NE(p.log().find("draining"), std::string::npos) << p.log();
}
