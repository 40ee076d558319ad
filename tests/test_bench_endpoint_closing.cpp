// The HTTP target against servers that close connections, as real ones do:
// llama-server ends every streamed response by closing the connection
// without "Connection: close", so a client that reuses the kept-alive
// connection at once sends its next request into a closing socket. These
// servers are raw sockets on 127.0.0.1 (an ephemeral port), so the closing
// is exact: after each response, only when the next request arrives (the
// race lost every time), half-way through a stream, or before any response.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "qinfer/bench/endpoint_target.h"
#include "qinfer/bench/load_gen.h"
#include "qinfer/bench/serve_bench.h"

namespace qinfer::bench {
namespace {

using namespace std::chrono_literals;

enum class Closing {
  kAfterEachResponse,  // complete response, then close (llama-server's way)
  kOnNextRequest,      // complete response, keep open; close when the next request arrives, unanswered
  kHalfCloseMidStream,  // two chunks, then shutdown(SHUT_WR), no [DONE]
  kBeforeAnyResponse,   // read the request, close without a byte
};

class ClosingServer {
 public:
  std::atomic<int> requests{0};     // requests read
  std::atomic<int> connections{0};  // connections accepted

  explicit ClosingServer(Closing mode, int chunks = 3) : mode_(mode), chunks_(chunks) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 64);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~ClosingServer() {
    stopping_ = true;
    accept_thread_.join();
    std::lock_guard lock(mu_);
    for (std::thread& t : conn_threads_) t.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  bool wait_readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    for (int waited = 0; waited < ms && !stopping_; waited += 20)
      if (::poll(&p, 1, 20) > 0) return true;
    return false;
  }

  void accept_loop() {
    while (!stopping_) {
      if (!wait_readable(fd_, 20)) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections;
      std::lock_guard lock(mu_);
      conn_threads_.emplace_back([this, c] { serve(c); });
    }
  }

  // Reads one request (headers, then Content-Length bytes); false on EOF or silence.
  bool read_request(int c, std::string& buf) {
    while (true) {
      const size_t end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        const size_t cl = buf.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
        if (buf.size() >= end + 4 + length) {
          buf.erase(0, end + 4 + length);
          ++requests;
          return true;
        }
      }
      if (!wait_readable(c, 3000)) return false;
      char tmp[4096];
      const ssize_t n = ::read(c, tmp, sizeof tmp);
      if (n <= 0) return false;
      buf.append(tmp, size_t(n));
    }
  }

  static void write_all(int c, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += size_t(n);
    }
  }

  static std::string chunk(const std::string& payload) {
    char head[16];
    std::snprintf(head, sizeof head, "%zx\r\n", payload.size());
    return head + payload + "\r\n";
  }

  static std::string event(int i, bool last) {
    return "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\" tok" +
           std::to_string(i) + "\",\"finish_reason\":" + (last ? "\"length\"" : "null") + "}]}\n\n";
  }

  void serve(int c) {
    std::string buf;
    int served = 0;
    while (read_request(c, buf)) {
      if (mode_ == Closing::kBeforeAnyResponse || (mode_ == Closing::kOnNextRequest && served > 0)) break;
      write_all(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
      if (mode_ == Closing::kHalfCloseMidStream) {
        write_all(c, chunk(event(0, false)) + chunk(event(1, false)));
        ::shutdown(c, SHUT_WR);
        while (wait_readable(c, 3000)) {  // the client may still send; wait for its close
          char tmp[256];
          if (::read(c, tmp, sizeof tmp) <= 0) break;
        }
        break;
      }
      std::string body;
      for (int i = 0; i < chunks_; ++i) body += chunk(event(i, i + 1 == chunks_));
      body += chunk("data: [DONE]\n\n") + "0\r\n\r\n";
      write_all(c, body);
      ++served;
      if (mode_ == Closing::kAfterEachResponse) break;
    }
    ::close(c);
  }

  Closing mode_;
  int chunks_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> conn_threads_;
};

EndpointOptions options(const ClosingServer& s, double timeout_s = 30) {
  EndpointOptions o;
  o.url = s.url();
  o.model = "m";
  o.timeout_s = timeout_s;
  return o;
}

BenchPrompt prompt() { return synthetic_text_prompts(1, 6, 3, 0)[0]; }

// The failure, made certain: every request after the first met a
// connection the server was closing, and came back at once as "no response
// ... within 300 s". Each is now sent again on a new connection.
TEST(BenchEndpointClosing, ClosedKeptAliveConnectionIsResentOnANewOne) {
  ClosingServer server(Closing::kOnNextRequest);
  EndpointTarget target(options(server));
  target.prepare(1);
  for (int i = 0; i < 6; ++i) {
    const RequestTimeline r = target.run(prompt(), 0);
    ASSERT_TRUE(r.ok) << "request " << i << ": " << r.error;
    EXPECT_EQ(r.chunk_s.size(), 3u);
    EXPECT_EQ(r.reconnects, i == 0 ? 0 : 1) << "request " << i;
  }
  EXPECT_EQ(server.connections.load(), 6);
  EXPECT_EQ(server.requests.load(), 11);  // 6 answered + 5 refused
}

// llama-server's behaviour under load: concurrent workers, each connection
// closed after its response. Every request completes.
TEST(BenchEndpointClosing, ServerClosingAfterEachResponseLosesNoRequest) {
  ClosingServer server(Closing::kAfterEachResponse);
  EndpointTarget target(options(server));
  LoadOptions lo;
  lo.num_requests = 16;
  lo.concurrency = 4;
  const LoadRun run = run_load(target, {prompt()}, lo);
  const ServeSummary s = summarize(run.requests, run.duration_s);
  EXPECT_EQ(s.completed, 16) << ::testing::PrintToString(s.errors);
  EXPECT_EQ(s.failed, 0);
  EXPECT_LT(run.duration_s, 10.0);
}

TEST(BenchEndpointClosing, HalfCloseMidStreamIsAClosedStreamNotAStall) {
  ClosingServer server(Closing::kHalfCloseMidStream);
  EndpointTarget target(options(server, 30));
  target.prepare(1);
  const double t0 = now_s();
  const RequestTimeline r = target.run(prompt(), 0);
  EXPECT_FALSE(r.ok);
  EXPECT_LT(now_s() - t0, 5.0) << "must not wait for the 30 s timeout";
  EXPECT_NE(r.error.find("the server closed the connection after 2 chunks, before [DONE] or a finish_reason"),
            std::string::npos)
      << r.error;
  EXPECT_EQ(r.error.find("stalled"), std::string::npos) << r.error;
  EXPECT_EQ(r.reconnects, 0);  // part of a response came: not sent again
}

// A server that never answers: tried twice (the second on a new connection),
// then failed with what happened, quickly, without claiming a timeout.
TEST(BenchEndpointClosing, ServerClosingBeforeAnyResponseIsSaidAsSuch) {
  ClosingServer server(Closing::kBeforeAnyResponse);
  EndpointTarget target(options(server, 300));
  target.prepare(1);
  const double t0 = now_s();
  const RequestTimeline r = target.run(prompt(), 0);
  EXPECT_FALSE(r.ok);
  EXPECT_LT(now_s() - t0, 5.0);
  EXPECT_NE(r.error.find("the server closed the connection without a response"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("also on a new connection"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("within 300 s"), std::string::npos) << r.error;
  EXPECT_EQ(server.requests.load(), 2);
}

// Through the command line with a dataset, as in the issue (6 requests).
TEST(BenchEndpointClosing, CliWithDatasetCompletesEveryRequest) {
  ClosingServer server(Closing::kOnNextRequest);
  const auto dir = test::scratch_dir();
  const std::string dataset = (dir / "prompts.jsonl").string();
  {
    std::ofstream f(dataset);
    for (int i = 0; i < 6; ++i) f << "{\"prompt\": \"Once upon a time " << i << "\"}\n";
  }
  const std::string json = (dir / "r.json").string();
  const auto r = test::run_qinfer("bench --endpoint " + server.url() + " --model m --concurrency 1 --num-requests 6 "
                                  "--max-tokens 3 --dataset " + dataset + " --json " + json + " --db " +
                                  (dir / "r.db").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(test::slurp(json));
  EXPECT_EQ(j[0]["completed"], 6) << j.dump();
  EXPECT_EQ(j[0]["failed"], 0);
  EXPECT_GE(j[0]["reconnects"].get<int>(), 5);  // 6 with the warm-up on the same connection
  EXPECT_NE(r.out.find("Re-sent on a new connection:"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace qinfer::bench
