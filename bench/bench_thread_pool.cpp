// Cost of one parallel region of the ThreadPool (registered here; main is in
// bench_kernels.cpp): the static split with its barrier on every worker
// against the dynamic chunks that wait only for workers inside, over a
// matmul-sized row count with a little work per row. A decode step opens
// ~200 of these, so µs here are ms per 100 tokens.
//   qinfer_bench_kernels --benchmark_filter=pool/
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>

#include "qinfer/core/thread_pool.h"

namespace {

// Rows of ~50 ns of arithmetic each (a stand-in for a 16-row kernel call's tenth).
inline void work(int64_t b, int64_t e) {
  float s = 0.0f;
  for (int64_t r = b; r < e; ++r)
    for (int i = 0; i < 64; ++i) s = std::fma(s, 0.999f, float(r + i));
  benchmark::DoNotOptimize(s);
}

void bm_pool_static(benchmark::State& st) {
  qinfer::ThreadPool pool(int(st.range(0)));
  const int64_t rows = st.range(1);
  for (auto _ : st)
    pool.parallel_for(rows, [&](int64_t b, int64_t e) { work(b, e); });
}

void bm_pool_chunks(benchmark::State& st) {
  qinfer::ThreadPool pool(int(st.range(0)));
  const int64_t rows = st.range(1);
  const int64_t chunk = std::max<int64_t>(16, rows / (4 * st.range(0)));
  for (auto _ : st)
    pool.parallel_chunks(rows, chunk, [&](int64_t b, int64_t e) { work(b, e); });
}

}  // namespace

BENCHMARK(bm_pool_static)->Name("pool/static")->Args({2, 256})->Args({2, 2048})->Args({2, 5632});
BENCHMARK(bm_pool_chunks)->Name("pool/chunks")->Args({2, 256})->Args({2, 2048})->Args({2, 5632});
