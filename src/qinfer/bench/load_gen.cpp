#include "qinfer/bench/load_gen.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "qinfer/core/error.h"

namespace qinfer::bench {

std::vector<double> arrival_offsets(int n, double request_rate, uint64_t seed) {
  if (!(request_rate > 0)) throw InputError("--request-rate must be greater than 0 (or inf)");
  std::vector<double> t(size_t(std::max(n, 0)), 0.0);
  if (std::isinf(request_rate)) return t;
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(request_rate);
  for (size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] + gap(rng);
  return t;
}

LoadRun run_load(BenchTarget& target, const std::vector<BenchPrompt>& prompts, const LoadOptions& o,
                 const LoadProgress& progress) {
  if (o.num_requests < 1) throw InputError("--num-requests must be at least 1");
  if (o.concurrency < 0) throw InputError("--concurrency must be at least 1");
  if (prompts.empty()) throw InputError("no prompts to send");
  const std::vector<double> arrival = arrival_offsets(o.num_requests, o.request_rate, o.seed);
  const int n_workers = o.concurrency > 0 ? std::min(o.concurrency, o.num_requests) : o.num_requests;
  target.prepare(n_workers);

  LoadRun run;
  run.requests.resize(size_t(o.num_requests));
  std::atomic<int> next{0};
  std::mutex mu;
  int done = 0, failed = 0;
  double last_end = 0;
  const double t0 = now_s();

  // Each worker takes the next request in order and sends it when it is due.
  auto worker = [&](int w) {
    for (int i; (i = next.fetch_add(1)) < o.num_requests;) {
      const double due = t0 + arrival[size_t(i)];
      if (const double wait = due - now_s(); wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      RequestTimeline r = target.run(prompts[(o.prompt_offset + size_t(i)) % prompts.size()], w);
      const double end = now_s();
      std::lock_guard lock(mu);
      last_end = std::max(last_end, end);
      ++done;
      if (!r.ok) ++failed;
      run.requests[size_t(i)] = std::move(r);
      if (progress) progress(done, failed, o.num_requests);
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(size_t(n_workers));
  for (int w = 0; w < n_workers; ++w) threads.emplace_back(worker, w);
  for (auto& t : threads) t.join();
  run.duration_s = last_end - t0;
  return run;
}

}  // namespace qinfer::bench
