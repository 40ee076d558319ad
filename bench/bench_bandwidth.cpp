// STREAM-style read bandwidth (the decode roofline's denominator), the same
// measurement `qinfer bench --roofline` makes, at 1 and 2 threads.
//   qinfer_bench_kernels --benchmark_filter=read_bandwidth
#include <benchmark/benchmark.h>

#include "qinfer/bench/bandwidth.h"

namespace {

void bm_read_bandwidth(benchmark::State& st) {
  qinfer::bench::BandwidthOptions o;
  o.threads = int(st.range(0));
  o.repetitions = 3;
  double best = 0;
  for (auto _ : st) best = qinfer::bench::measure_read_bandwidth_here(o);
  st.counters["GB/s"] = best / 1e9;
}
BENCHMARK(bm_read_bandwidth)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
