// httplib's read timeout applies to each read(), so a client that drips its
// headers or body a byte at a time (slow-loris) would hold a connection and a
// pool thread for as long as it likes. This server serves each connection
// itself (httplib still parses and answers every request) through a socket
// stream whose reads for one request must all finish by a deadline counted
// from the request's first byte. Answering, streamed or not, is not timed:
// only a stalled write is, by the write timeout.
#pragma once
#include <httplib.h>

#include <chrono>
#include <functional>

namespace qinfer::serve {

class DeadlineHttpServer : public httplib::Server {
 public:
  // on_timeout: called on the connection's thread for each request cut short.
  DeadlineHttpServer(std::chrono::milliseconds request_deadline, std::function<void()> on_timeout);

 private:
  bool process_and_close_socket(socket_t sock) override;

  std::chrono::milliseconds request_deadline_;
  std::function<void()> on_timeout_;
};

}  // namespace qinfer::serve
