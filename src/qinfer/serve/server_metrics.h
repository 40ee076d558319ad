// The metrics `qinfer serve` exports, in one place: names, help, label sets
// and buckets. The server records requests and token timings as they happen;
// engine state (queue, running sequences, KV blocks) and the model registry's
// state are read at each scrape from the sources given, so what /metrics shows
// is never stale.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "qinfer/runtime/engine.h"
#include "qinfer/serve/metrics.h"

namespace qinfer::serve {

struct EngineSnapshot {
  std::string model;  // the model's id
  EngineStats stats;
};

struct ModelMemory {
  std::string model;
  uint64_t resident_bytes = 0;
};

class ServerMetrics {
 public:
  // `engines`: the stats of every resident model's engine; `models`: the
  // resident models' bytes; `memory_budget`: 0 when unlimited.
  ServerMetrics(std::function<std::vector<EngineSnapshot>()> engines, std::function<std::vector<ModelMemory>()> models,
                uint64_t memory_budget);

  // One answered request. `endpoint` is the route ("/v1/chat/completions"),
  // never the raw path, so the label set stays bounded.
  void request(const std::string& endpoint, int status);
  // A finished generation: exact prompt and generated token counts, and
  // whether the client went away before it finished.
  void generation(const std::string& model, int prompt_tokens, int generated_tokens, bool cancelled);
  // Per-model latency histograms, kept by the caller for the per-token path
  // (observe() allocates nothing).
  Histogram& time_to_first_token(const std::string& model);
  Histogram& inter_token_latency(const std::string& model);
  Histogram& request_duration(const std::string& endpoint);
  void model_loaded(const std::string& model, double seconds);
  void model_evicted(const std::string& model);
  // A connection cut because its request did not arrive within --timeout.
  void connection_timed_out();

  std::string render() const { return registry_.render(); }
  MetricsRegistry& registry() { return registry_; }

 private:
  MetricsRegistry registry_;
};

// The exposition format's content type.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace qinfer::serve
