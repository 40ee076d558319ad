// Helpers for the server tests: a server in this process on a free port, a
// `qinfer serve` child process (for signals), and readers for SSE streams.
#pragma once
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "qinfer/model/create.h"
#include "qinfer/model/model.h"
#include "qinfer/serve/model_provider.h"
#include "qinfer/serve/server.h"
#include "test_util.h"

namespace qinfer::test {

// A serve::Server on 127.0.0.1 and a free port, running on its own thread.
class TestServer {
 public:
  TestServer(std::shared_ptr<serve::ModelHandle> model, serve::ServeOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    server_ = std::make_unique<serve::Server>(o, std::make_unique<serve::SingleModel>(std::move(model)));
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    // stop() before the loop starts would be lost: wait until it answers.
    httplib::Client c("127.0.0.1", port_);
    for (int i = 0; i < 500; ++i) {
      if (auto r = c.Get("/health"); r) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the test server did not answer";
  }
  ~TestServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return port_; }
  serve::Server& server() { return *server_; }
  std::unique_ptr<httplib::Client> client(int timeout_s = 60) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(timeout_s, 0);
    c->set_write_timeout(timeout_s, 0);
    return c;
  }

 private:
  std::unique_ptr<serve::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

// The sizes of a random-weight llama model made for a test.
struct RandomShape {
  int n_vocab = 300, n_ctx = 512, n_embd = 64, n_ff = 96, n_layer = 1, n_head = 2;
};

// A random-weight F32 llama model of `shape`, loaded for serving on one
// thread with at most max_seqs sequences at once (its file is removed once loaded).
inline std::shared_ptr<serve::ModelHandle> random_model(const std::string& name, const RandomShape& shape,
                                                        int max_seqs = 8) {
  const auto path =
      std::filesystem::temp_directory_path() / ("qinfer-serve-" + name + "-" + std::to_string(::getpid()) + ".gguf");
  CreateOptions co;
  co.shape.arch = "llama";
  co.shape.name = name;
  co.shape.n_vocab = shape.n_vocab;
  co.shape.n_ctx_train = shape.n_ctx;
  co.shape.n_embd = shape.n_embd;
  co.shape.n_ff = shape.n_ff;
  co.shape.n_layer = shape.n_layer;
  co.shape.n_head = shape.n_head;
  co.shape.n_head_kv = shape.n_head;
  co.type = TypeId::F32;
  co.n_threads = 1;
  create_model(path.string(), co);
  serve::ModelLoadOptions lo;
  lo.threads = 1;
  lo.engine.max_seqs = max_seqs;
  auto model = serve::make_model_handle(name, load_model(path.string()), lo);
  std::filesystem::remove(path);
  return model;
}

// A plain TCP connection to the server (for clients httplib cannot play:
// half-sent requests, closing without reading); -1 on failure.
inline int connect_raw(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

// The payloads of a complete SSE body's `data:` lines; fails the test on any
// other kind of line.
inline std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ':') continue;
    if (line.rfind("data: ", 0) != 0) {
      ADD_FAILURE() << "not an SSE data line: " << line;
      continue;
    }
    out.push_back(line.substr(6));
  }
  return out;
}

// `qinfer serve ARGS --port 0` as a child process; stderr goes to a file.
class ServeProcess {
 public:
  explicit ServeProcess(const std::string& args) {
    log_ = std::filesystem::temp_directory_path() / ("qinfer-serve-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(counter()++) + ".log");
    const std::string cmd = std::string("exec ") + QINFER_BINARY + " serve --port 0 " + args + " 2>" + log_.string() +
                            " >/dev/null </dev/null";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const std::regex listening("listening on http://[^:]+:([0-9]+)");
    for (int i = 0; i < 3000 && port_ == 0; ++i) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      else if (exited()) break;
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~ServeProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      wait_exit();
    }
    std::filesystem::remove(log_);
  }
  int port() const { return port_; }
  std::string log() const {
    std::ifstream f(log_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  // The exit status (128 + signal when killed), waiting for it.
  int wait_exit() {
    if (!reaped_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return status_;
  }

 private:
  bool exited() {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    reaped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  pid_t pid_ = -1;
  int port_ = 0;
  bool reaped_ = false;
  int status_ = -1;
  std::filesystem::path log_;
};

}  // namespace qinfer::test
