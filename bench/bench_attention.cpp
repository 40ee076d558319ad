// Google Benchmark of the attention kernel (kernels/attention.h) at
// TinyLlama's shape: head_dim 64, 8 query heads per KV head (32 / 4), per
// cache type and ISA, for one decode token and for a prefill tile of 16
// tokens, at 512 and 2048 cached keys (F16 also at 8192: 1 token and Forward's
// 8-token tile). Reports keys/s (query rows × keys seen).
//   qinfer_bench_kernels --benchmark_filter='attention/f16' --benchmark_min_time=0.2
// Registered from this file; bench_kernels.cpp's main runs it.
#include <benchmark/benchmark.h>

#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "qinfer/kernels/attention.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;
using kernels::Isa;
using kernels::kKeyTile;

namespace {

constexpr int kHeadDim = 64, kHeads = 8, kBlock = 16;

void bm_attention(benchmark::State& st, TypeId kv_type, Isa isa, int n_keys, int n_tok) {
  if (int(isa) > int(kernels::best_supported_isa())) {
    st.SkipWithError("ISA not supported on this CPU");
    return;
  }
  kernels::set_isa(isa);
  const size_t ktb = kernels::k_tile_bytes(kv_type, kHeadDim), vrb = kernels::v_row_bytes(kv_type, kHeadDim);
  const size_t k_bytes = ktb * (kBlock / kKeyTile), stride = k_bytes + vrb * kBlock;
  const int n_blocks = (n_keys + kBlock - 1) / kBlock;
  std::vector<uint8_t> mem(stride * size_t(n_blocks));
  std::vector<int32_t> table(static_cast<size_t>(n_blocks));
  std::iota(table.begin(), table.end(), 0);
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> row(kHeadDim);
  for (int p = 0; p < n_keys; ++p) {
    uint8_t* b = mem.data() + size_t(p / kBlock) * stride;
    for (auto& x : row) x = g(rng);
    kernels::store_k(kv_type, kHeadDim, row.data(), b + size_t(p % kBlock / kKeyTile) * ktb, p % kKeyTile);
    for (auto& x : row) x = g(rng);
    kernels::store_v(kv_type, kHeadDim, row.data(), b + k_bytes + size_t(p % kBlock) * vrb);
  }
  kernels::KvHeadView kv;
  kv.k_type = kv.v_type = kv_type;
  kv.head_dim = kHeadDim;
  kv.k_base = mem.data();
  kv.v_base = mem.data() + k_bytes;
  kv.block_stride = stride;
  kv.blocks = table.data();
  kv.block_size = kBlock;
  std::vector<float> q(size_t(n_tok) * kHeads * kHeadDim), out(q.size());
  for (auto& x : q) x = g(rng);
  kernels::AttentionRows r;
  r.q = q.data();
  r.out = out.data();
  r.stride = int64_t(kHeads) * kHeadDim;
  r.n_tok = n_tok;
  r.n_heads = kHeads;
  r.pos0 = n_keys - n_tok;
  r.scale = 1.0f / std::sqrt(float(kHeadDim));
  std::vector<uint8_t> scratch(kernels::attention_scratch_bytes(kHeadDim, n_tok * kHeads, n_keys));
  for (auto _ : st) {
    kernels::attention(kv, r, scratch.data(), scratch.size());
    benchmark::ClobberMemory();
  }
  const double keys_seen = double(kHeads) * (double(r.pos0) * n_tok + double(n_tok) * (n_tok + 1) / 2);
  st.counters["keys/s"] = benchmark::Counter(double(st.iterations()) * keys_seen, benchmark::Counter::kIsRate);
}

const bool registered = [] {
  for (TypeId t : {TypeId::F16, TypeId::Q8_0, TypeId::Q4_0})
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
      for (int n_keys : {512, 2048})
        for (int n_tok : {1, 16}) {
          const std::string name = std::string("attention/") + type_info(t).name + "/" + kernels::isa_name(isa) +
                                   "/keys=" + std::to_string(n_keys) + "/tok=" + std::to_string(n_tok);
          benchmark::RegisterBenchmark(name.c_str(), bm_attention, t, isa, n_keys, n_tok);
        }
  // Long context, F16 cache (the default): one decode token and the tile of
  // 8 tokens × 8 heads (64 rows) that Forward hands out per job, at depth 8192.
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    for (int n_tok : {1, 8}) {
      const std::string name = std::string("attention/f16/") + kernels::isa_name(isa) +
                               "/keys=8192/tok=" + std::to_string(n_tok);
      benchmark::RegisterBenchmark(name.c_str(), bm_attention, TypeId::F16, isa, 8192, n_tok);
    }
  return true;
}();

}  // namespace
