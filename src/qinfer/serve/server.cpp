#include "qinfer/serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "qinfer/core/error.h"
#include "qinfer/serve/api_error.h"
#include "qinfer/serve/deadline_http_server.h"
#include "qinfer/serve/routes.h"

namespace qinfer::serve {

namespace {

// Compares without stopping at the first difference, so timing says nothing
// about how much of a guessed key was right.
bool same_key(const std::string& given, const std::string& key) {
  unsigned diff = given.size() != key.size();
  for (size_t i = 0; i < given.size(); ++i) diff |= unsigned(given[i] ^ key[i % key.size()]);
  return diff == 0;
}

std::string bearer_token(const httplib::Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0)) return auth.substr(7);
  return req.get_header_value("x-api-key");
}

// An answer given before the body was read: the connection closes, so the
// unread body is never taken for the next request.
// When this thread's current request had its headers read (0: not yet).
// httplib serves a connection's requests one after another on one pool thread
// and calls the logger on that thread once the whole response, streamed or
// not, is written: the time between is qinfer_request_duration_seconds.
thread_local std::chrono::steady_clock::time_point request_start{};

httplib::Server::HandlerResponse refuse(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  res.set_header("Connection", "close");
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  if (e.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(error_body(e), "application/json");
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

Server::Server(ServeOptions options, std::unique_ptr<ModelProvider> models)
    : state_(std::make_unique<ServerState>(std::move(options), std::move(models))) {
  const ServeOptions& o = state_->options();
  // A client must send a whole request within timeout_s of its first byte
  // (slow-loris); a stalled read or write, or an idle keep-alive, is cut too.
  http_ = std::make_unique<DeadlineHttpServer>(std::chrono::seconds(o.timeout_s),
                                               [&m = state_->metrics()] { m.connection_timed_out(); });
  // A streaming response holds its connection's thread until it ends.
  const size_t threads = o.http_threads > 0 ? size_t(o.http_threads) : 256;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_read_timeout(o.timeout_s, 0);
  http_->set_write_timeout(o.timeout_s, 0);
  http_->set_keep_alive_timeout(std::min(o.timeout_s, 10));
  http_->set_keep_alive_max_count(100000);
  http_->set_payload_max_length(o.max_body);
  http_->set_tcp_nodelay(true);
  http_->set_socket_options([this](int fd) {
    httplib::default_socket_options(fd);
    listen_fd_ = fd;
  });
  install_routes();
}

Server::~Server() = default;

void Server::install_routes() {
  const std::vector<Route> routes = all_routes();
  std::vector<std::string> open_paths, listing;
  for (const Route& r : routes) {
    if (r.open) open_paths.push_back(r.path);
    listing.push_back(r.method + " " + r.path);
  }
  ServerState& state = *state_;

  http_->set_pre_routing_handler([&state, open_paths](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    const ServeOptions& o = state.options();
    if (state.draining()) {
      ApiError e(503, "the server is shutting down");
      e.retry_after_s = 5;
      return refuse(res, e);
    }
    const bool open = !o.api_key_all && std::find(open_paths.begin(), open_paths.end(), req.path) != open_paths.end();
    if (!o.api_key.empty() && !open) {
      const std::string given = bearer_token(req);
      if (given.empty()) return refuse(res, ApiError(401, "an API key is required (Authorization: Bearer KEY)", "", "", "missing_api_key"));
      if (!same_key(given, o.api_key)) return refuse(res, ApiError(401, "the API key is not valid", "", "", "invalid_api_key"));
    }
    if (req.has_header("Content-Length")) {
      const std::string n = req.get_header_value("Content-Length");
      const bool too_long = n.size() > 18 || n.find_first_not_of("0123456789") != std::string::npos ||
                            std::stoull(n.empty() ? "0" : n) > o.max_body;
      if (too_long)
        return refuse(res, ApiError(413, "the request body is " + n + " bytes; the limit is " + std::to_string(o.max_body) +
                                             " (--max-body)"));
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  for (const Route& r : routes) {
    auto handler = [&state, h = r.handler](const httplib::Request& req, httplib::Response& res) { h(req, res, state); };
    if (r.method == "GET")
      http_->Get(r.path, handler);
    else
      http_->Post(r.path, handler);
  }

  // Every answer counts in /metrics under its route (unknown paths as one label).
  std::vector<std::string> paths;
  for (const Route& r : routes) paths.push_back(r.path);
  http_->set_logger([&state, paths](const httplib::Request& req, const httplib::Response& res) {
    const bool known = std::find(paths.begin(), paths.end(), req.path) != paths.end();
    const std::string endpoint = known ? req.path : "other";
    state.metrics().request(endpoint, res.status);
    if (request_start != std::chrono::steady_clock::time_point{}) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - request_start;
      state.metrics().request_duration(endpoint).observe(took.count());
      request_start = {};
    }
  });

  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ApiError& e) {
      res.status = e.status();
      if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
      res.set_content(error_body(e), "application/json");
    } catch (const InputError& e) {
      set_error(res, 400, e.what());
    } catch (const std::bad_alloc&) {
      set_error(res, 500, "out of memory");
    } catch (const std::exception& e) {
      set_error(res, 500, std::string("internal error: ") + e.what());
    } catch (...) {
      set_error(res, 500, "internal error");
    }
  });

  // Statuses httplib sets itself (no route, body over the limit, bad request line).
  http_->set_error_handler(httplib::Server::HandlerWithResponse([listing](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message;
    switch (res.status) {
      case 404: {
        message = "no endpoint " + req.method + " " + req.path + "; endpoints:";
        for (const std::string& l : listing) message += " " + l + ",";
        message.pop_back();
        break;
      }
      case 413: message = "the request body is over the limit (--max-body)"; break;
      default: message = "the request could not be read (HTTP " + std::to_string(res.status) + ")";
    }
    set_error(res, res.status, message);
    return httplib::Server::HandlerResponse::Handled;
  }));
}

int Server::bind() {
  const ServeOptions& o = state_->options();
  int port = o.port;
  if (port == 0)
    port = http_->bind_to_any_port(o.host);
  else if (!http_->bind_to_port(o.host, port))
    port = -1;
  if (port <= 0)
    throw InputError("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                     " (--host/--port): the address is in use or not available");
  // httplib listens with a backlog of 5; 200 clients connecting at once need more.
  if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
  return port;
}

void Server::run() { http_->listen_after_bind(); }

void Server::drain() {
  using namespace std::chrono;
  ServerState& s = *state_;
  s.start_draining();
  const auto deadline = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(s.options().drain_timeout_s));
  while (s.active() > 0 && steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  if (s.active() > 0) {
    s.abort_running();
    const auto grace = steady_clock::now() + 2s;
    while (s.active() > 0 && steady_clock::now() < grace) std::this_thread::sleep_for(20ms);
  }
  stop();
}

void Server::stop() { http_->stop(); }

}  // namespace qinfer::serve
