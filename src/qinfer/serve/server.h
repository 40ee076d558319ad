// The HTTP server: cpp-httplib with the route table (routes.h), the API key,
// the body limit, timeouts for connections that stall, a thread per open
// connection (up to ServeOptions::http_threads), JSON errors for every
// failure, and a drain that lets running requests finish before it stops.
#pragma once
#include <memory>
#include <mutex>

#include "qinfer/serve/server_state.h"

namespace httplib {
class Server;
}

namespace qinfer::serve {

class Server {
 public:
  Server(ServeOptions options, std::unique_ptr<ModelProvider> models);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens on options.host:port; returns the port (the chosen one for port 0).
  // Throws InputError when it cannot.
  int bind();
  // Answers requests until stop(). Call bind() first.
  void run();
  // New requests get 503; waits up to drain_timeout_s for running requests to
  // finish, cancels what is left, then stops. Any thread.
  void drain();
  // Stops at once (open streams end). Any thread.
  void stop();

  ServerState& state() { return *state_; }

 private:
  void install_routes();
  std::unique_ptr<ServerState> state_;
  std::unique_ptr<httplib::Server> http_;
  int listen_fd_ = -1;
};

}  // namespace qinfer::serve
