// Any OpenAI-compatible server as a benchmark target (llama-server, vLLM,
// Ollama, TGI, qinfer serve): streaming /v1/completions for prompts and
// /v1/chat/completions for conversations, timed on the client as vLLM's
// benchmark client does. HTTP is cpp-httplib: one small dependency that also
// gives the tests their fake server, and whose per-read timeout turns a
// stalled stream into a failed request instead of a hang.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "qinfer/bench/target.h"

namespace httplib {
class Client;
}

namespace qinfer::bench {

struct EndpointOptions {
  std::string url;    // http(s)://HOST:PORT, optionally with a path ending in /v1
  std::string model;  // the "model" field of each request
  std::string api_key;  // sent as a bearer token when not empty
  double timeout_s = 300;  // per request in all, and the longest wait for any data
  bool ignore_eos = true;  // ask for exactly max_tokens (ignore_eos, min_tokens)
};

// A parsed endpoint URL.
struct EndpointUrl {
  std::string scheme_host_port;  // "http://127.0.0.1:8080"
  std::string completions_path;  // "/v1/completions"
  std::string chat_path;         // "/v1/chat/completions"
};
// Throws InputError for anything but http(s)://HOST[:PORT][/PATH].
EndpointUrl parse_endpoint_url(const std::string& url);

class EndpointTarget final : public BenchTarget {
 public:
  explicit EndpointTarget(const EndpointOptions& options);
  ~EndpointTarget() override;

  void prepare(int n_workers) override;
  RequestTimeline run(const BenchPrompt& prompt, int worker) override;
  std::string describe() const override { return opt_.url; }

 private:
  struct Attempt {
    RequestTimeline timeline;
    bool closed_unanswered = false;  // connection closed before any response: safe to send again
  };
  Attempt send_once(const BenchPrompt& prompt, int worker);
  httplib::Client& client(int worker);

  EndpointOptions opt_;
  EndpointUrl url_;
  std::vector<std::unique_ptr<httplib::Client>> clients_;  // one connection per worker
};

}  // namespace qinfer::bench
