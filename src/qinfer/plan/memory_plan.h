// The memory plan (`qinfer plan`, and the check before run/bench/eval load a
// model): the peak resident memory a load will need, from the GGUF header
// alone (no weight is read), against the memory available; and if it does not
// fit, which quantization type or which context would.
//
// Parts of the prediction, each from its owner: weight bytes per tensor type
// (tensor infos); the KV cache and compute buffers (runtime's Context::memory
// for one sequence, Engine::memory for --parallel N: the paged pool's bytes per
// block for the cache types and block size, and its block count); the sizes
// quantize would produce (quantize's tensor policy and the type registry).
// Weights are mapped from the file, so they count once a forward pass has
// touched them: all of them, except rows of an untied token embedding that no
// token of the context used (see kEmbeddingFaultBytes).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qinfer/runtime/device.h"
#include "qinfer/runtime/kv_cache.h"

namespace qinfer {

class GgufFile;

struct PlanRequest {
  std::string model_path;
  int n_ctx = 0;            // tokens per sequence; 0: the model's default, as `run` uses
  int n_parallel = 1;       // sequences held at once (serving slots)
  KvCacheType cache_type;   // K and V types of the paged KV cache
  int kv_block = 16;        // tokens per KV block
  std::string kv_budget;    // the engine's pool (--kv-budget: tokens or bytes); "": n_ctx x n_parallel
  int n_batch = 512;        // tokens per forward pass (the engine's prefill chunk)
  int n_threads = 0;        // 0: all hardware threads
  int logits_rows = 1;      // most logits rows one pass keeps (a perplexity chunk: n_ctx)
  DeviceChoice device;      // where it runs (memory compared: RAM for the CPU)
  int64_t memory_budget = -1;  // bytes; replaces the available memory when >= 0
  bool repack = true;       // the load repacks weights (model/repack.h; off: --no-repack or QINFER_NO_REPACK)
};

struct TypeBytes {
  std::string type;  // "q4_0", "f32", ...
  uint64_t bytes = 0;
  int64_t n_tensors = 0;
};

// Another file type's weights and the peak they would give.
struct PlanAlternative {
  std::string type;  // llama-quantize's name: "Q4_K_M"
  uint64_t weight_bytes = 0;
  uint64_t peak_bytes = 0;
};

struct MemoryPlan {
  PlanRequest request;           // as resolved: n_ctx, n_batch, n_threads filled in
  std::string arch, file_type;
  std::vector<TypeBytes> weights_by_type;  // largest first
  uint64_t weight_bytes = 0;     // all tensor data
  uint64_t resident_weight_bytes = 0;  // what a run touches of it
  uint64_t metadata_bytes = 0;   // header pages, parsed metadata, tokenizer
  uint64_t repacked_bytes = 0;   // weights repacked at load (resident in place of the file's pages)
  uint64_t repack_transient_bytes = 0;  // file pages resident beside the packed copy while packing (a slice)
  uint64_t kv_bytes_per_token = 0;
  uint64_t kv_block_bytes = 0;   // one block of the pool, every layer
  int kv_blocks = 0;             // blocks in the pool
  uint64_t kv_bytes = 0;         // the pool: n_parallel sequences of n_ctx tokens, or --kv-budget
  uint64_t buffer_bytes = 0;     // the forward pass's activations and attention scratch, logits
  uint64_t overhead_bytes = 0;   // the process itself: code, libraries, allocator, threads
  uint64_t predicted_peak_bytes = 0;
  uint64_t available_bytes = 0;
  std::string available_from;    // "MemAvailable" or "--memory-budget"
  bool fits = false;
  std::optional<PlanAlternative> fitting_type;  // the largest quantization that fits
  int fitting_ctx = 0;                          // the longest context that fits (0: none)
};

// Runtime overhead of the qinfer process before any model (measured: peak RSS
// of `qinfer devices`-sized work, rounded up).
inline constexpr uint64_t kProcessOverheadBytes = 12ull << 20;
// An untied token embedding is read a row per token; each first touch of a
// page maps the neighbouring cached pages too (the kernel's fault-around,
// 64 KiB by default), so a row costs at least this much resident memory.
inline constexpr uint64_t kEmbeddingFaultBytes = 64ull << 10;

// Reads the GGUF header (InputError for files that are not GGUF models qinfer
// runs) and plans. Alternatives are searched only when the load does not fit.
MemoryPlan make_plan(const PlanRequest& request);
MemoryPlan make_plan(const GgufFile& file, const PlanRequest& request);

// "needs 7.9 GiB: weights 6.7, KV 1.0 for ctx 8192, buffers 0.2; 5.1 GiB
// available; Q4_K_M (4.1 GiB) or --ctx 2048 fits" (one line).
std::string plan_summary(const MemoryPlan& plan);
// The whole arithmetic for `qinfer plan`, several lines.
std::string plan_text(const MemoryPlan& plan);
// The same as a JSON object (predicted_peak_bytes, parts, decision).
std::string plan_json(const MemoryPlan& plan);

}  // namespace qinfer
