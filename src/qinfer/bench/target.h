// What a serving benchmark measures: something that takes one request and
// streams tokens back. The in-process engine and any OpenAI-compatible HTTP
// server are both targets, so the same load generator and metrics measure
// them the same way.
#pragma once
#include <chrono>
#include <string>

#include "qinfer/bench/prompts.h"
#include "qinfer/bench/serve_metrics.h"

namespace qinfer::bench {

// The clock every timeline uses: steady, in seconds.
inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  // Called before a run with the number of workers that will call run() at once.
  virtual void prepare(int n_workers) = 0;
  // Sends one request from worker `worker` (0 <= worker < n_workers) and
  // records its timeline on now_s()'s clock. A failed request comes back with
  // ok = false and a one-line error; run() does not throw for it.
  virtual RequestTimeline run(const BenchPrompt& prompt, int worker) = 0;
  // "qinfer (in-process)" or the endpoint's URL.
  virtual std::string describe() const = 0;
};

}  // namespace qinfer::bench
