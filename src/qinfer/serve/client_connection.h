// Whether the client of a request that is still being computed has gone away.
// cpp-httplib 0.11 (Debian 12) gives a handler no socket and no
// "connection closed" query, so a non-streaming request would otherwise run to
// max_tokens after its client left. The connection's socket is found by its
// two endpoints (the request's remote and local address and port), which name
// one TCP connection; it stays open until the handler returns.
#pragma once
#include <string>

#include "qinfer/serve/api_error.h"

namespace httplib {
struct Request;
}

namespace qinfer::serve {

class ClientConnection {
 public:
  // Finds the request's socket; when it cannot be found, gone() is always false
  // (the request then runs to its end, as before).
  explicit ClientConnection(const httplib::Request& req);

  // True once the peer has closed its side: nothing left to read and the read
  // end at EOF or in error. Bytes already sent (a pipelined next request) count
  // as alive. Same rule as newer cpp-httplib's is_connection_closed(); a client
  // that half-closes after its request is taken as gone there too.
  bool gone() const;

  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// What a handler throws after cancelling the generation of a client that left
// (nginx's 499; nobody reads the body, /metrics counts the status).
inline ApiError client_gone_error() {
  return ApiError(499, "the client closed the connection; the request was cancelled", "", "", "client_closed_request");
}

}  // namespace qinfer::serve
