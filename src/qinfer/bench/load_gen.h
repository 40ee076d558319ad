// Load generation as `vllm bench serve` shapes it: request i becomes due at
// arrival[i] (all at once for rate = inf, else Poisson arrivals: exponential
// gaps with mean 1/rate, seeded), and at most `concurrency` requests are in
// flight (0: no limit). A fixed concurrency N with rate inf is a closed loop
// of N workers. Timelines start when a request is actually sent, so waiting
// for a free worker is not counted (vLLM's semaphore works the same way).
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "qinfer/bench/target.h"

namespace qinfer::bench {

struct LoadOptions {
  int num_requests = 1;
  int concurrency = 0;  // requests in flight at most; 0: num_requests
  double request_rate = std::numeric_limits<double>::infinity();  // requests/s
  uint64_t seed = 0;
  size_t prompt_offset = 0;  // request i sends prompt (prompt_offset + i) % prompts.size()
};

// Arrival offsets in seconds from the start: 0 first, then exponential gaps.
std::vector<double> arrival_offsets(int n, double request_rate, uint64_t seed);

struct LoadRun {
  std::vector<RequestTimeline> requests;  // in request order
  double duration_s = 0;                  // first send to last completion
};

// Called after each request completes (from worker threads, serialized).
using LoadProgress = std::function<void(int done, int failed, int total)>;

// Sends num_requests requests from up to `concurrency` threads.
LoadRun run_load(BenchTarget& target, const std::vector<BenchPrompt>& prompts, const LoadOptions& options,
                 const LoadProgress& progress = {});

}  // namespace qinfer::bench
