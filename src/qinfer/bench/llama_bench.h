// src/qinfer/bench is the measuring library behind `qinfer bench`; the
// top-level bench/ holds the Google Benchmark programs for the kernels.
//
// In-process throughput tests with llama-bench's definitions: `pp N` is N
// prompt tokens evaluated from an empty cache, `tg N` is N tokens decoded one
// at a time; each repeated after a warm-up, reported as mean ± sample stddev.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/model/model.h"

namespace qinfer {

struct ThroughputTest {
  std::string name;  // "pp512", "tg128"
  int n_prompt = 0;  // > 0 for pp
  int n_gen = 0;     // > 0 for tg
  int threads = 0;  // resolve_thread_count (core/threads.h)
  int n_ctx = 0;    // 0: n_prompt + n_gen (at least 16)
};

struct ThroughputResult {
  ThroughputTest test;
  int threads = 0;                  // what the engine ran on (the request, resolved)
  int64_t peak_rss_bytes = -1;      // of this process, after the test
  int64_t kv_cache_bytes = 0;       // of the test's context
  std::vector<double> samples_tps;  // one per repetition
  double mean() const;
  double stddev() const;  // sample stddev (Bessel), 0 for one sample
};

// Runs one test `reps` times after a warm-up.
ThroughputResult run_throughput_test(const Model& model, const ThroughputTest& test, int reps, int n_batch = 512);

}  // namespace qinfer
