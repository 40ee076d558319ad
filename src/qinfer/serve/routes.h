// The server's endpoints, all listed in one table (routes.cpp): each is a
// method, a path, whether it is open without the API key, and its handler.
// A new endpoint is a new function returning its routes, added to all_routes().
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "qinfer/serve/server_state.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace qinfer::serve {

using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&, ServerState&)>;

struct Route {
  std::string method;  // "GET" or "POST"
  std::string path;
  bool open = false;   // answered without the API key (unless --api-key-all)
  RouteHandler handler;
};

std::vector<Route> all_routes();

// The groups all_routes() joins.
std::vector<Route> openai_routes();  // /v1/completions, /v1/chat/completions, /v1/models
std::vector<Route> health_routes();  // /health
// /metrics, /api/health, /api/models (/api/tags), /api/chat, and the chat page at /
std::vector<Route> ops_routes();

// Sets an OpenAI-style JSON error on the response.
void set_error(httplib::Response& res, int status, const std::string& message);

}  // namespace qinfer::serve
