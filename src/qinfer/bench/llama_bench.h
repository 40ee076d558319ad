// src/qinfer/bench is the measuring library behind `qinfer bench`; the
// top-level bench/ holds the Google Benchmark programs for the kernels.
//
// In-process throughput tests with llama-bench's definitions: `pp N` is N
// prompt tokens evaluated from an empty cache, `tg N` is N tokens decoded one
// at a time; with a depth D (`pp N @ dD`) the cache already holds D tokens,
// filled before the clock starts. Each test is repeated after a warm-up and
// reported as mean ± sample stddev.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/model/model.h"
#include "qinfer/runtime/context.h"

namespace qinfer {

struct ThroughputTest {
  std::string name;  // "pp512", "tg128"
  int n_prompt = 0;  // > 0 for pp
  int n_gen = 0;     // > 0 for tg
  int threads = 0;  // resolve_thread_count (core/threads.h)
  int n_ctx = 0;    // 0: n_depth + n_prompt + n_gen (at least 16)
  int n_depth = 0;  // tokens in the KV cache before the test
};

// "pp512", "tg128 @ d2048" (llama-bench's names).
std::string throughput_test_name(int n_prompt, int n_gen, int n_depth);

struct ThroughputResult {
  ThroughputTest test;
  int threads = 0;                  // what the engine ran on (the request, resolved)
  int64_t peak_rss_bytes = -1;      // of this process, after the test
  int64_t kv_cache_bytes = 0;       // of the test's context
  std::vector<double> samples_tps;  // one per repetition
  double mean() const;
  double stddev() const;  // sample stddev (Bessel), 0 for one sample
};

// Runs one test `reps` times after a warm-up. `context` gives the batch size
// and KV cache (type, block); its threads come from the test, its context
// size from the test's n_ctx (else prompt + generated tokens).
ThroughputResult run_throughput_test(const Model& model, const ThroughputTest& test, int reps,
                                     const ContextParams& context = {});

}  // namespace qinfer
