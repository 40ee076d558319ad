// The server's connection timeouts (--timeout): a client must send a whole
// request within the limit of its first byte however slowly it drips it
// (slow-loris: httplib's own timeout is per read, so a byte a second held a
// connection forever), each request on a keep-alive connection gets its own
// limit, and answering, however long, is never cut by it.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "serve_test_util.h"

using namespace qinfer;
using namespace qinfer::test;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const char* kStories = "models/stories260K/stories260K.gguf";

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::shared_ptr<serve::ModelHandle> stories() {
  serve::ModelLoadOptions o;
  o.threads = 1;
  o.engine.max_seqs = 2;
  return serve::make_model_handle("stories260K", load_model(data_path(kStories)), o);
}

serve::ServeOptions with_timeout(int seconds) {
  serve::ServeOptions o;
  o.timeout_s = seconds;
  return o;
}

// Sends `text` a byte every `gap` (reading and dropping whatever the server
// answers) until the server closes the connection; returns the seconds from
// the first byte to the close, or -1 if it was still open after give_up_s.
double drip_until_closed(int fd, const std::string& text, std::chrono::milliseconds gap, double give_up_s) {
  const auto t0 = Clock::now();
  size_t sent = 0;
  while (seconds_since(t0) < give_up_s) {
    if (sent < text.size() && ::send(fd, &text[sent], 1, MSG_NOSIGNAL) == 1) ++sent;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(gap.count())) > 0) {
      char buf[512];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return seconds_since(t0);
    }
  }
  return -1;
}

// Reads one HTTP response with a Content-Length body; empty on EOF or error.
std::string read_response(int fd) {
  std::string data;
  char buf[1024];
  for (;;) {
    const size_t head_end = data.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const size_t cl = data.find("Content-Length: ");
      const size_t body = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
      if (data.size() >= head_end + 4 + body) return data;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    data.append(buf, size_t(n));
  }
}

int timed_out_count(const TestServer& s) {
  auto r = s.client()->Get("/metrics");
  if (!r) return -1;
  const std::string key = "\nqinfer_connections_timed_out_total ";
  const size_t at = r->body.find(key);
  return at == std::string::npos ? -1 : std::stoi(r->body.substr(at + key.size()));
}

}  // namespace

// A client that sends half a request and stops is dropped after --timeout.
TEST(ServeTimeouts, StalledClientIsDropped) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories(), with_timeout(1));
  const int fd = connect_raw(s.port());
  ASSERT_GE(fd, 0);
  const std::string partial = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le";
  ASSERT_EQ(::send(fd, partial.data(), partial.size(), 0), ssize_t(partial.size()));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto t0 = Clock::now();
  // The server may answer 400 first; then it closes (recv returns 0).
  char buf[256];
  ssize_t n = 1;
  while (n > 0) n = ::recv(fd, buf, sizeof buf, 0);
  const double waited = seconds_since(t0);
  ::close(fd);
  EXPECT_EQ(n, 0);
  EXPECT_LT(waited, 4.0);
}

// Headers dripped a byte every 0.2 s: every read is far within the per-read
// timeout, but the whole request is not there after 2 s, so it is cut.
TEST(ServeTimeouts, DrippedHeadersAreCutAtTheDeadline) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories(), with_timeout(2));
  const int fd = connect_raw(s.port());
  ASSERT_GE(fd, 0);
  const std::string headers = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(400, 'a');
  const double closed_after = drip_until_closed(fd, headers, std::chrono::milliseconds(200), 10.0);
  ::close(fd);
  EXPECT_GE(closed_after, 1.5) << "cut before the deadline";
  EXPECT_LT(closed_after, 5.0) << "-1: still open after 10 s of dripping";
  EXPECT_EQ(timed_out_count(s), 1);
}

// The same for a body: the headers arrive at once, the body a byte at a time.
TEST(ServeTimeouts, DrippedBodyIsCutAtTheDeadline) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories(), with_timeout(2));
  const int fd = connect_raw(s.port());
  ASSERT_GE(fd, 0);
  const std::string body = "{\"prompt\": \"" + std::string(380, 'a') + "\"}";
  const std::string head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), ssize_t(head.size()));
  const double closed_after = drip_until_closed(fd, body, std::chrono::milliseconds(200), 10.0);
  ::close(fd);
  EXPECT_GE(closed_after, 1.5);
  EXPECT_LT(closed_after, 5.0) << "-1: still open after 10 s of dripping";
  EXPECT_EQ(timed_out_count(s), 1);
}

// One keep-alive connection living longer than the limit, with prompt
// requests: the limit is per request, not per connection.
TEST(ServeTimeouts, KeepAliveRequestsEachGetTheirOwnDeadline) {
  QINFER_REQUIRE_DATA(kStories);
  TestServer s(stories(), with_timeout(1));
  const int fd = connect_raw(s.port());
  ASSERT_GE(fd, 0);
  const std::string get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 4; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(600));
    ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), ssize_t(get.size())) << "request " << i;
    const std::string r = read_response(fd);
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << "request " << i << ": " << r;
  }
  ::close(fd);
  EXPECT_EQ(timed_out_count(s), 0);
}

// A streamed answer that takes several times the limit arrives whole: the
// limit is on receiving the request, never on answering it.
TEST(ServeTimeouts, AnswerLongerThanTheLimitIsNotCut) {
  RandomShape shape;
  shape.n_ctx = 4096;
  shape.n_embd = 512;
  shape.n_ff = 1376;
  shape.n_layer = 4;
  shape.n_head = 8;
  auto model = random_model("slow", shape, 1);
  TestServer s(model, with_timeout(1));
  auto c = s.client();
  // Size the answer from this machine's speed so it takes about 3 s.
  Json body = {{"prompt", "a"}, {"max_tokens", 32}, {"ignore_eos", true}, {"temperature", 0}};
  auto t0 = Clock::now();
  ASSERT_TRUE(c->Post("/v1/completions", body.dump(), "application/json"));
  const double per_token = seconds_since(t0) / 32;
  int n = int(std::clamp(3.0 / per_token, 64.0, 4000.0));
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  // On a busy machine the first estimate can be off: lengthen the answer until
  // it takes longer than the limit (what this test is about), then check it.
  for (int attempt = 0;; ++attempt) {
    body["max_tokens"] = n;
    t0 = Clock::now();
    auto r = c->Post("/v1/completions", body.dump(), "application/json");
    const double took = seconds_since(t0);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const std::vector<std::string> events = sse_payloads(r->body);
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events.back(), "[DONE]");
    EXPECT_EQ(Json::parse(events[events.size() - 2])["usage"]["completion_tokens"], n);
    if (took > 1.5) break;
    ASSERT_LT(attempt, 3) << "the answer was too quick to test the limit (" << n << " tokens in " << took << " s)";
    n = std::min(4000, n * 2);
  }
  EXPECT_EQ(timed_out_count(s), 0);
}
