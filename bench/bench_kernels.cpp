// bench/ (this folder) holds Google Benchmark programs; `qinfer bench` and its
// library are src/qinfer/bench.
//
// Google Benchmark of the CPU kernels per weight type and ISA at TinyLlama row
// lengths (2048 = hidden size, 5632 = FFN size). Reports weight bytes/s.
//   qinfer_bench_kernels --benchmark_filter='vec_dot/q4_0' --benchmark_min_time=0.1s
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qinfer/core/huge_buffer.h"
#include "qinfer/kernels/kernel_types.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;
using kernels::Isa;

namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

// `rows` weight rows of length n and `n_tok` activation rows, in kernel format.
struct Data {
  std::vector<uint8_t> W, X;
  size_t ws = 0, xs = 0;
  Data(TypeId t, int64_t n, int64_t rows, int64_t n_tok) {
    const TypeInfo& info = type_info(t);
    ws = row_size(t, n);
    xs = row_size(info.vec_dot_type, n);
    W.resize(ws * size_t(rows));
    X.resize(xs * size_t(n_tok));
    auto w = randn(size_t(n), 1);
    info.from_float(w.data(), W.data(), n);
    for (int64_t r = 1; r < rows; ++r) std::memcpy(W.data() + size_t(r) * ws, W.data(), ws);
    auto x = randn(size_t(n), 2);
    for (int64_t k = 0; k < n_tok; ++k)
      kernels::convert_activations(info.vec_dot_type, x.data(), X.data() + size_t(k) * xs, n);
  }
};

bool pin(benchmark::State& st, Isa isa) {
  if (!kernels::isa_supported(isa)) {
    st.SkipWithError("ISA not supported on this CPU");
    return false;
  }
  kernels::set_isa(isa);
  return true;
}

void bm_vec_dot(benchmark::State& st, TypeId t, Isa isa, int64_t n) {
  if (!pin(st, isa)) return;
  // 64 rows cycled so the weights come from L2 like a real (cache-resident) slice.
  const int64_t rows = 64;
  Data d(t, n, rows, 1);
  int64_t r = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize(kernels::vec_dot(t, n, d.W.data() + size_t(r) * d.ws, d.X.data()));
    r = (r + 1) % rows;
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(d.ws));
}

void bm_matmul(benchmark::State& st, TypeId t, Isa isa, int64_t n, int64_t n_tok) {
  if (!pin(st, isa)) return;
  const int64_t rows = 256;
  Data d(t, n, rows, n_tok);
  std::vector<float> Y(size_t(rows * n_tok));
  for (auto _ : st) {
    kernels::matmul_rows(t, n, d.W.data(), d.ws, 0, rows, d.X.data(), d.xs, n_tok, Y.data(), rows);
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(d.ws) * rows);
  st.counters["dots/s"] = benchmark::Counter(double(st.iterations()) * double(rows * n_tok), benchmark::Counter::kIsRate);
}

// A decode step's tokens (1 sequence, or a batch of 2..16) against a matrix far
// larger than the caches (64 MiB of weights): measures how well the kernel
// streams weights from DRAM, which the cache-resident benchmarks above do not
// see. Bytes/s counts the weights once, so a batch that shares one pass over
// them keeps the single token's rate.
void bm_matmul_dram(benchmark::State& st, TypeId t, Isa isa, int64_t n, int64_t n_tok) {
  if (!pin(st, isa)) return;
  const int64_t rows = (int64_t(64) << 20) / int64_t(row_size(t, n));
  Data d(t, n, rows, n_tok);
  std::vector<float> Y(static_cast<size_t>(rows * n_tok));
  for (auto _ : st) {
    kernels::matmul_rows(t, n, d.W.data(), d.ws, 0, rows, d.X.data(), d.xs, n_tok, Y.data(), rows);
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(d.ws) * rows);
}

// A prefill's shape: a 2048 × n matrix (8 MiB of F16 at n = 2048) against
// 512 tokens, as one layer's projection in pp512. Neither operand fits in L2,
// so this measures the cache blocking as well as the register tile.
void bm_matmul_prefill(benchmark::State& st, TypeId t, Isa isa, int64_t n, bool packed) {
  if (!pin(st, isa)) return;
  if (packed && !kernels::has_packed_matmul(t)) {
    st.SkipWithError("no packed kernel for this type on this ISA");
    return;
  }
  const int64_t rows = 2048, n_tok = 512;
  Data d(t, n, rows, n_tok);
  std::vector<uint8_t> buf;
  uint8_t* P = nullptr;
  if (packed) {
    const kernels::PackedFormat& f = *kernels::packed_format(t);
    buf.resize(f.bytes(n, rows) + 64);
    P = buf.data() + (64 - uintptr_t(buf.data()) % 64) % 64;
    f.pack(n, rows, d.W.data(), d.ws, P);
  }
  std::vector<float> Y(static_cast<size_t>(rows * n_tok));
  for (auto _ : st) {
    if (packed)
      kernels::matmul_packed(t, n, P, rows, 0, rows, d.X.data(), d.xs, n_tok, Y.data(), rows);
    else
      kernels::matmul_rows(t, n, d.W.data(), d.ws, 0, rows, d.X.data(), d.xs, n_tok, Y.data(), rows);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter(double(st.iterations()) * 2.0 * double(rows * n_tok * n) * 1e-9, benchmark::Counter::kIsRate);
}

// The same two benchmarks over the weights repacked as the loader does
// (kernels/packed.h): `packed` beside `matmul_rows` / `matmul_dram`.
void bm_matmul_packed(benchmark::State& st, TypeId t, Isa isa, int64_t n, int64_t n_tok, bool dram) {
  if (!pin(st, isa)) return;
  if (!kernels::has_packed_matmul(t)) {
    st.SkipWithError("no packed kernel for this type on this ISA");
    return;
  }
  const int64_t rows = dram ? (int64_t(64) << 20) / int64_t(row_size(t, n)) / 16 * 16 : 256;
  Data d(t, n, rows, n_tok);
  const kernels::PackedFormat& f = *kernels::packed_format(t);
  // Memory as the loader's (model/repack.cpp): huge pages unless QINFER_NO_HUGEPAGES=1.
  HugeBuffer buf(f.bytes(n, rows));
  uint8_t* P = buf.data();
  f.pack(n, rows, d.W.data(), d.ws, P);
  d.W = {};  // only the packed copy is read
  std::vector<float> Y(static_cast<size_t>(rows * n_tok));
  for (auto _ : st) {
    kernels::matmul_packed(t, n, P, rows, 0, rows, d.X.data(), d.xs, n_tok, Y.data(), rows);
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(d.ws) * rows);
}

}  // namespace

int main(int argc, char** argv) {
  for (Isa isa : kernels::all_isas())
    for (TypeId t : kernels::types_with_kernels())
      for (int64_t n : {2048, 5632}) {
        const std::string tag = std::string(type_info(t).name) + "/" + kernels::isa_name(isa) + "/n=" + std::to_string(n);
        benchmark::RegisterBenchmark(("vec_dot/" + tag).c_str(), bm_vec_dot, t, isa, n);
        const bool packs = kernels::packed_format(t) != nullptr;
        if (n == 2048)
          for (int64_t n_tok : {1, 2, 4, 8, 16}) {
            benchmark::RegisterBenchmark(("matmul_dram/" + tag + "/tok=" + std::to_string(n_tok)).c_str(),
                                         bm_matmul_dram, t, isa, n, n_tok);
            if (packs)
              benchmark::RegisterBenchmark(("matmul_dram_packed/" + tag + "/tok=" + std::to_string(n_tok)).c_str(),
                                           bm_matmul_packed, t, isa, n, n_tok, true);
          }
        benchmark::RegisterBenchmark(("matmul_prefill/" + tag + "/tok=512").c_str(), bm_matmul_prefill, t, isa, n,
                                     false)
            ->Unit(benchmark::kMillisecond);
        if (packs)
          benchmark::RegisterBenchmark(("matmul_prefill_packed/" + tag + "/tok=512").c_str(), bm_matmul_prefill, t,
                                       isa, n, true)
              ->Unit(benchmark::kMillisecond);
        for (int64_t n_tok : {1, 4, 16, 64}) {
          benchmark::RegisterBenchmark(("matmul_rows/" + tag + "/tok=" + std::to_string(n_tok)).c_str(), bm_matmul, t,
                                       isa, n, n_tok);
          if (packs)
            benchmark::RegisterBenchmark(("matmul_packed/" + tag + "/tok=" + std::to_string(n_tok)).c_str(),
                                         bm_matmul_packed, t, isa, n, n_tok, false);
        }
      }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
