// What every route handler sees: the options, the models, and the server's
// life cycle (draining: new requests get 503; aborting: running ones stop).
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "qinfer/runtime/sampler.h"
#include "qinfer/serve/generation.h"
#include "qinfer/serve/model_provider.h"
#include "qinfer/serve/server_metrics.h"

namespace qinfer::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0: any free port
  std::string api_key;             // "" = no key needed
  bool api_key_all = false;        // the key guards /health and /metrics too
  size_t max_body = 1 << 20;       // bytes of a request body at most (413 beyond)
  int timeout_s = 30;              // to send a whole request; and the longest a read or write may stall
  int max_queue = 64;              // per model: requests waiting beyond the running ones (429 beyond)
  int http_threads = 0;            // connections served at once; 0: 256
  double drain_timeout_s = 30;     // SIGTERM: how long running requests may take to finish
  SamplerParams sampling;          // defaults for fields a request leaves out
};

class ServerState {
 public:
  ServerState(ServeOptions options, std::unique_ptr<ModelProvider> models);

  const ServeOptions& options() const { return options_; }
  ServerMetrics& metrics() { return *metrics_; }
  uint64_t memory_budget() const;  // --memory-budget (0: none)
  ModelProvider& models() { return *models_; }
  GenerationLimits limits_for(const ModelHandle& model) const;

  bool draining() const { return draining_; }
  bool aborting() const { return aborting_; }
  void start_draining() { draining_ = true; }
  void abort_running() { aborting_ = true; }

  // Requests being answered (counted by an ActiveRequest in the handler).
  int active() const { return active_; }
  class ActiveRequest {
   public:
    explicit ActiveRequest(ServerState& s) : s_(s) { ++s_.active_; }
    ~ActiveRequest() { --s_.active_; }
    ActiveRequest(const ActiveRequest&) = delete;
    ActiveRequest& operator=(const ActiveRequest&) = delete;

   private:
    ServerState& s_;
  };

  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  ServeOptions options_;
  std::unique_ptr<ServerMetrics> metrics_;  // before models_: engines report into it until they stop
  std::unique_ptr<ModelProvider> models_;
  std::atomic<bool> draining_{false}, aborting_{false};
  std::atomic<int> active_{0};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace qinfer::serve
