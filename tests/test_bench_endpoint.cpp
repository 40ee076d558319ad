// The HTTP target against a fake OpenAI server started in the test (cpp-httplib
// on 127.0.0.1, ephemeral port) that streams chunks with injected delays or
// misbehaves on purpose: measured TTFT/ITL must match the delays, and garbage,
// errors, stalls and unreachable ports must give failed requests with clear
// messages, quickly. Also the SSE reader and URL parsing on their own.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.h"
#include "qinfer/bench/endpoint_target.h"
#include "qinfer/bench/load_gen.h"
#include "qinfer/bench/openai_stream.h"
#include "qinfer/bench/serve_bench.h"
#include "qinfer/core/error.h"
#include "qinfer/store/results_store.h"

namespace qinfer::bench {
namespace {

using namespace std::chrono_literals;

enum class Mode { kStream, kHttp500, kNotJson, kGarbage, kErrorEvent, kStall, kTruncated };

class FakeServer {
 public:
  std::atomic<Mode> mode{Mode::kStream};
  std::atomic<int> chunks{4};
  std::atomic<int> first_delay_ms{120};
  std::atomic<int> gap_ms{40};
  std::atomic<int> usage_completion_tokens{0};  // 0: send no usage
  std::atomic<int> requests{0};

  FakeServer() {
    srv_.set_keep_alive_timeout(1);
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
    srv_.Post("/v1/completions", handler);
    srv_.Post("/v1/chat/completions", handler);
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    for (int i = 0; i < 500 && !srv_.is_running(); ++i) std::this_thread::sleep_for(1ms);
  }
  ~FakeServer() {
    stopping_ = true;
    srv_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  nlohmann::json last_body() {
    std::lock_guard lock(mu_);
    return last_body_;
  }
  // When each request's output chunks were written (now_s()), one list per request.
  std::vector<std::vector<double>> write_times() {
    std::lock_guard lock(mu_);
    return write_times_;
  }

 private:
  static std::string event(const nlohmann::json& j) { return "data: " + j.dump() + "\n\n"; }

  void handle(const httplib::Request& req, httplib::Response& res) {
    ++requests;
    {
      std::lock_guard lock(mu_);
      last_body_ = nlohmann::json::parse(req.body, nullptr, false);
    }
    const Mode m = mode.load();
    if (m == Mode::kHttp500) {
      res.status = 500;
      res.set_content(R"({"error": {"message": "model exploded", "type": "server_error"}})", "application/json");
      return;
    }
    if (m == Mode::kGarbage) {
      res.set_content("<html>502 bad gateway</html>\n", "text/html");
      return;
    }
    const bool chat = req.path.find("chat") != std::string::npos;
    auto step = std::make_shared<int>(0);
    size_t slot = 0;
    {
      std::lock_guard lock(mu_);
      slot = write_times_.size();
      write_times_.emplace_back();
    }
    res.set_chunked_content_provider("text/event-stream", [this, m, chat, step, slot](size_t, httplib::DataSink& sink) {
      const int i = (*step)++;
      const int n = chunks.load();
      std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? first_delay_ms.load() : gap_ms.load()));
      std::string out;
      if (m == Mode::kNotJson) {
        out = "data: this is not json\n\n";
      } else if (m == Mode::kErrorEvent) {
        out = event({{"error", {{"message", "out of memory"}}}});
      } else if (m == Mode::kStall && i >= 1) {
        // Stop sending without closing, until the test ends (or 5 s).
        for (int w = 0; w < 500 && !stopping_; ++w) std::this_thread::sleep_for(10ms);
        sink.done();
        return true;
      } else if (m == Mode::kTruncated && i >= 2) {
        sink.done();  // closes the stream with neither [DONE] nor a finish_reason
        return true;
      } else if (i < n) {
        nlohmann::json choice = chat ? nlohmann::json{{"index", 0}, {"delta", {{"content", " tok"}}}}
                                     : nlohmann::json{{"index", 0}, {"text", " tok"}};
        choice["finish_reason"] = i + 1 == n ? nlohmann::json("length") : nlohmann::json(nullptr);
        out = event({{"id", "cmpl-1"}, {"object", "text_completion"}, {"choices", {choice}}});
        std::lock_guard lock(mu_);
        write_times_[slot].push_back(now_s());
      } else {
        if (usage_completion_tokens > 0)
          out = event({{"id", "cmpl-1"},
                       {"choices", nlohmann::json::array()},
                       {"usage", {{"prompt_tokens", 11}, {"completion_tokens", usage_completion_tokens.load()}}}});
        out += "data: [DONE]\n\n";
        sink.write(out.data(), out.size());
        sink.done();
        return true;
      }
      sink.write(out.data(), out.size());
      if (m == Mode::kNotJson || m == Mode::kErrorEvent) sink.done();
      return true;
    });
  }

  httplib::Server srv_;
  int port_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  nlohmann::json last_body_;
  std::vector<std::vector<double>> write_times_;
};

EndpointOptions options(const FakeServer& s, double timeout_s = 2.0) {
  EndpointOptions o;
  o.url = s.url();
  o.model = "fake-model";
  o.timeout_s = timeout_s;
  return o;
}

BenchPrompt prompt(int max_tokens = 4) { return synthetic_text_prompts(1, 6, max_tokens, 0)[0]; }

// A port nobody listens on: bound once, then closed.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(BenchEndpoint, MeasuresInjectedDelays) {
  FakeServer server;
  server.first_delay_ms = 120;
  server.gap_ms = 40;
  server.chunks = 4;
  EndpointTarget target(options(server));
  LoadOptions lo;
  lo.num_requests = 2;
  lo.concurrency = 2;
  const LoadRun run = run_load(target, {prompt()}, lo);
  // The fake server's sleeps overshoot on a loaded machine, so the client's
  // times are checked against when each chunk was really written: never
  // before it (causality), and late by no more than a loopback read can be.
  const double max_delivery_s = 0.3;
  const std::vector<std::vector<double>> written = server.write_times();
  ASSERT_EQ(written.size(), 2u);
  for (const RequestTimeline& r : run.requests) {
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.chunk_s.size(), 4u);
    EXPECT_EQ(r.output_tokens, 4);  // no usage: one token per chunk
    const auto delivered = [&](const std::vector<double>& w) {
      if (w.size() != r.chunk_s.size()) return false;
      for (size_t k = 0; k < w.size(); ++k)
        if (r.chunk_s[k] < w[k] || r.chunk_s[k] > w[k] + max_delivery_s) return false;
      return true;
    };
    const std::vector<double>* w = delivered(written[0]) ? &written[0] : delivered(written[1]) ? &written[1] : nullptr;
    ASSERT_NE(w, nullptr) << "client chunk times do not follow any request's write times";
    const RequestMetrics m = request_metrics(r);
    EXPECT_GE(m.ttft_s, 0.120 - 0.002);  // the first chunk cannot come before the injected delay
    EXPECT_GE(m.ttft_s, (*w)[0] - r.send_s);
    EXPECT_LE(m.ttft_s, (*w)[0] - r.send_s + max_delivery_s);
    ASSERT_EQ(m.itl_s.size(), 3u);
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(m.itl_s[k], (*w)[k + 1] - (*w)[k], max_delivery_s);
    EXPECT_NEAR(m.tpot_s, ((*w)[3] - (*w)[0]) / 3, max_delivery_s / 3);  // (last - first) / 3 gaps
  }
  const ServeSummary s = summarize(run.requests, run.duration_s);
  EXPECT_EQ(s.completed, 2);
  EXPECT_GE(run.duration_s, 0.120 + 3 * 0.040 - 0.005);
  // Both in flight at once: each was sent before the other's first chunk was written.
  EXPECT_LT(run.requests[0].send_s, std::min(written[0][0], written[1][0]));
  EXPECT_LT(run.requests[1].send_s, std::min(written[0][0], written[1][0]));

  const nlohmann::json body = server.last_body();
  EXPECT_EQ(body["model"], "fake-model");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["max_tokens"], 4);
  EXPECT_EQ(body["ignore_eos"], true);
  EXPECT_EQ(body["prompt"].get<std::string>(), prompt().text);
}

TEST(BenchEndpoint, UsageFieldGivesTokenCounts) {
  FakeServer server;
  server.first_delay_ms = 5;
  server.gap_ms = 5;
  server.chunks = 3;
  server.usage_completion_tokens = 9;  // e.g. several tokens per chunk
  EndpointTarget target(options(server));
  target.prepare(1);
  const RequestTimeline r = target.run(prompt(9), 0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.chunk_s.size(), 3u);  // the usage-only chunk is not an output chunk
  EXPECT_EQ(r.output_tokens, 9);
  EXPECT_EQ(r.prompt_tokens, 11);
}

TEST(BenchEndpoint, ChatMessagesGoToChatCompletions) {
  FakeServer server;
  server.first_delay_ms = 1;
  server.gap_ms = 1;
  EndpointTarget target(options(server));
  target.prepare(1);
  BenchPrompt p;
  p.messages = {{"user", "hello"}};
  p.max_tokens = 4;
  const RequestTimeline r = target.run(p, 0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.chunk_s.size(), 4u);
  EXPECT_EQ(server.last_body()["messages"][0]["content"], "hello");
}

// Runs one request in `mode`; expects failure with `needle` in the message, within `max_s`.
void expect_failure(Mode mode, const std::string& needle, double timeout_s = 2.0, double max_s = 2.0) {
  FakeServer server;
  server.mode = mode;
  server.first_delay_ms = 1;
  server.gap_ms = 1;
  EndpointTarget target(options(server, timeout_s));
  target.prepare(1);
  const double t0 = now_s();
  const RequestTimeline r = target.run(prompt(), 0);
  const double took = now_s() - t0;
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find(needle), std::string::npos) << "error was: " << r.error;
  EXPECT_LT(took, max_s);
  EXPECT_EQ(summarize({r}, 1.0).failed, 1);
}

TEST(BenchEndpoint, Http500IsAFailedRequestWithTheServersMessage) {
  expect_failure(Mode::kHttp500, "HTTP 500");
  expect_failure(Mode::kHttp500, "model exploded");
}

TEST(BenchEndpoint, NonJsonDataFails) { expect_failure(Mode::kNotJson, "SSE data is not JSON"); }

TEST(BenchEndpoint, NonSseBodyFails) { expect_failure(Mode::kGarbage, "malformed SSE line"); }

TEST(BenchEndpoint, ErrorEventFails) { expect_failure(Mode::kErrorEvent, "out of memory"); }

TEST(BenchEndpoint, TruncatedStreamFails) { expect_failure(Mode::kTruncated, "truncated"); }

TEST(BenchEndpoint, StallMidStreamTimesOut) {
  // One chunk, then silence: the 0.3 s timeout ends it, long before the server would.
  expect_failure(Mode::kStall, "stalled", 0.3, 1.5);
}

TEST(BenchEndpoint, UnreachablePortIsAClearError) {
  EndpointOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(closed_port());
  o.model = "m";
  o.timeout_s = 1.0;
  EndpointTarget target(o);
  target.prepare(1);
  const double t0 = now_s();
  const RequestTimeline r = target.run(prompt(), 0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("cannot connect to " + o.url), std::string::npos) << r.error;
  EXPECT_LT(now_s() - t0, 1.5);
  // Through the benchmark, the warm-up turns it into one InputError.
  ServeConfig cfg;
  cfg.num_requests = 2;
  try {
    run_serve_bench(target, {prompt()}, cfg);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("warm-up request failed: cannot connect"), std::string::npos) << e.what();
  }
}

TEST(BenchEndpoint, SseReaderHandlesSplitsAndRejectsGarbage) {
  SseLineReader rd;
  EXPECT_TRUE(rd.feed("da").empty());
  EXPECT_TRUE(rd.feed("ta: {\"a\"").empty());
  auto got = rd.feed(":1}\r\n\r\n: keep-alive comment\nevent: x\nid: 3\ndata:[DONE]\n");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "{\"a\":1}");
  EXPECT_EQ(got[1], "[DONE]");
  EXPECT_TRUE(rd.pending().empty());
  EXPECT_THROW(rd.feed("<html>\n"), Error);

  EXPECT_TRUE(parse_stream_event("[DONE]").done);
  const StreamEvent e = parse_stream_event(R"({"choices":[{"text":"","finish_reason":null}]})");
  EXPECT_TRUE(e.has_output);  // empty text still counts as a chunk, as in vLLM
  EXPECT_FALSE(e.finished);
  const StreamEvent u = parse_stream_event(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}})");
  EXPECT_FALSE(u.has_output);
  EXPECT_EQ(u.completion_tokens.value_or(-1), 5);
  EXPECT_EQ(u.prompt_tokens.value_or(-1), 3);
  EXPECT_THROW(parse_stream_event("[1,2]"), Error);
  EXPECT_THROW(parse_stream_event("{oops"), Error);
}

TEST(BenchEndpoint, UrlParsing) {
  EndpointUrl u = parse_endpoint_url("http://localhost:8080");
  EXPECT_EQ(u.scheme_host_port, "http://localhost:8080");
  EXPECT_EQ(u.completions_path, "/v1/completions");
  EXPECT_EQ(u.chat_path, "/v1/chat/completions");
  u = parse_endpoint_url("https://host/api/v1/");
  EXPECT_EQ(u.scheme_host_port, "https://host");
  EXPECT_EQ(u.completions_path, "/api/v1/completions");
  u = parse_endpoint_url("http://h:1/v1/chat/completions");
  EXPECT_EQ(u.completions_path, "/v1/completions");
  EXPECT_THROW(parse_endpoint_url("localhost:8080"), InputError);
  EXPECT_THROW(parse_endpoint_url("ftp://h:1"), InputError);
  EXPECT_THROW(parse_endpoint_url("http://h:99999"), InputError);
  EXPECT_THROW(parse_endpoint_url("http://"), InputError);
}

TEST(BenchEndpoint, CliAgainstFakeServer) {
  FakeServer server;
  server.first_delay_ms = 5;
  server.gap_ms = 2;
  const auto dir = test::scratch_dir();
  const std::string json = (dir / "r.json").string(), csv = (dir / "r.csv").string();
  const auto r = test::run_qinfer("bench --endpoint " + server.url() + " --model fake --concurrency 1,2 --num-requests 3 "
                                  "--max-tokens 4 --input-len 8 --json " + json + " --csv " + csv + " --db " +
                                  (dir / "r.db").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Serving Benchmark Result"), std::string::npos);
  EXPECT_NE(r.out.find("Mean TTFT (ms):"), std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(test::slurp(json));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["concurrency"], 2);
  EXPECT_EQ(j[1]["completed"], 3);
  EXPECT_EQ(j[1]["backend"], "openai");
  EXPECT_EQ(test::count_lines(test::slurp(csv)), 3);
  // One stored run per concurrency level, with the latency percentiles.
  const std::vector<RunRecord> runs = ResultStore((dir / "r.db").string(), ResultStore::Mode::ReadOnly).list();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].label, "fake");
  EXPECT_EQ(runs[1].find(metric::kConcurrency), 2);
  EXPECT_EQ(runs[1].find(metric::kOutputThroughput), j[1]["output_throughput"].get<double>());
  EXPECT_EQ(runs[1].find(metric::latency("ttft", "p99")), j[1]["p99_ttft_ms"].get<double>());
  EXPECT_TRUE(runs[1].model.sha256.empty());  // a served name, not a file

  const auto bad = test::run_qinfer("bench --endpoint http://127.0.0.1:" + std::to_string(closed_port()) +
                                    " --model fake --num-requests 2 --timeout 1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("cannot connect"), std::string::npos) << bad.err;
  EXPECT_EQ(test::count_lines(bad.err), 1) << bad.err;
}

}  // namespace
}  // namespace qinfer::bench
