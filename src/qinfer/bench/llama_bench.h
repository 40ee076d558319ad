// In-process throughput tests with llama-bench's definitions: `pp N` is N
// prompt tokens evaluated from an empty cache, `tg N` is N tokens decoded one
// at a time; each repeated after a warm-up, reported as mean ± sample stddev.
#pragma once
#include <string>
#include <vector>

#include "qinfer/model/model.h"

namespace qinfer {

struct ThroughputTest {
  std::string name;  // "pp512", "tg128"
  int n_prompt = 0;  // > 0 for pp
  int n_gen = 0;     // > 0 for tg
  int threads = 1;
};

struct ThroughputResult {
  ThroughputTest test;
  std::vector<double> samples_tps;  // one per repetition
  double mean() const;
  double stddev() const;  // sample stddev (Bessel), 0 for one sample
};

// Runs one test `reps` times after a warm-up; on_rep(i) may print progress.
ThroughputResult run_throughput_test(const Model& model, const ThroughputTest& test, int reps, int n_batch = 512);

}  // namespace qinfer
