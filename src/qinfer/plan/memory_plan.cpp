#include "qinfer/plan/memory_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "qinfer/core/cpu_info.h"
#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/kernels/packed.h"
#include "qinfer/model/file_types.h"
#include "qinfer/model/gguf_hparams.h"
#include "qinfer/model/repack.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/quantize_model.h"
#include "qinfer/runtime/context.h"
#include "qinfer/runtime/engine.h"

namespace qinfer {

namespace {

// Heap held by one parsed metadata value (GgufFile keeps them all).
uint64_t value_heap(const GgufValue& v) {
  uint64_t b = v.s.size() > 15 ? v.s.size() + 1 : 0;  // beyond the small-string buffer
  b += v.arr.capacity() * sizeof(GgufValue);
  for (const GgufValue& e : v.arr) b += value_heap(e);
  return b;
}

// What loading keeps besides the weights: the header pages of the mapping, the
// parsed metadata, and the tokenizer, whose tables hold the vocabulary again
// (counted as the size of the tokenizer.* metadata).
uint64_t metadata_bytes(const GgufFile& f) {
  uint64_t parsed = 0, vocab = 0;
  for (const auto& [key, value] : f.metadata()) {
    const uint64_t b = sizeof(key) + sizeof(value) + key.size() + value_heap(value);
    parsed += b;
    if (key.rfind("tokenizer.", 0) == 0) vocab += b;
  }
  parsed += f.tensors().size() * (sizeof(GgufTensorInfo) + 64);  // tensor infos, their names, the index
  return f.data_offset() + parsed + vocab;
}

std::string file_type_of(const GgufFile& f) {
  const FileTypeInfo* info = find_file_type(f.get_int("general.file_type", -1));
  return info ? info->name : "";
}

struct Fixed {
  ModelConfig config;
  uint64_t weight_bytes = 0;
  uint64_t embd_bytes = 0;     // an untied token embedding (0 when tied: fully read as the classifier)
  uint64_t embd_row_bytes = 0;
  uint64_t metadata = 0;
  uint64_t repack_extra = 0;      // packed bytes beyond the file's, of the tensors repacked at load
  uint64_t repack_transient = 0;  // file pages resident beside the packed copies while packing (a slice)
};

// What the runtime allocates for the request: a Context for one sequence (run,
// perplexity, bench -p), the engine for several (serving slots).
RuntimeMemory runtime_memory(const ModelConfig& c, const PlanRequest& r) {
  if (r.n_parallel <= 1) {
    ContextParams cp;
    cp.n_ctx = r.n_ctx;
    cp.n_batch = r.n_batch;
    cp.n_threads = r.n_threads;
    cp.cache_type = r.cache_type;
    cp.kv_block = r.kv_block;
    cp.kv_budget_tokens = parse_kv_budget_tokens(r.kv_budget, kv_bytes_per_token(c, r.cache_type));
    return Context::memory(c, cp, std::max(r.logits_rows, 1));
  }
  EngineParams ep;
  ep.n_ctx = r.n_ctx;
  ep.max_seqs = r.n_parallel;
  ep.prefill_chunk = std::max(1, r.n_batch);
  ep.cache_type = r.cache_type;
  ep.kv_block = r.kv_block;
  ep.kv_budget_tokens = parse_kv_budget_tokens(r.kv_budget, kv_bytes_per_token(c, r.cache_type));
  ep.n_threads = r.n_threads;
  return Engine::memory(c, ep);
}

// The parts that depend on the context and parallelism, over fixed weights.
void fill_dynamic(const Fixed& fx, MemoryPlan& p) {
  PlanRequest& r = p.request;
  const RuntimeMemory m = runtime_memory(fx.config, r);
  r.n_ctx = m.n_ctx;
  if (r.n_parallel <= 1) r.n_batch = m.max_tokens;
  r.n_threads = m.n_threads;
  p.kv_bytes_per_token = m.kv_bytes_per_token;
  p.kv_block_bytes = m.kv_block_bytes;
  p.kv_blocks = m.kv_blocks;
  p.kv_bytes = m.kv_bytes;
  p.buffer_bytes = m.buffer_bytes();
  const uint64_t P = uint64_t(std::max(r.n_parallel, 1));
  const uint64_t touched_rows = std::min<uint64_t>(uint64_t(fx.config.n_vocab), P * uint64_t(m.n_ctx));
  const uint64_t embd_resident =
      std::min(fx.embd_bytes, touched_rows * std::max(fx.embd_row_bytes, kEmbeddingFaultBytes));
  p.resident_weight_bytes = fx.weight_bytes - fx.embd_bytes + embd_resident;
  p.metadata_bytes = fx.metadata;
  p.overhead_bytes = kProcessOverheadBytes;
  p.resident_weight_bytes += fx.repack_extra;
  p.repack_transient_bytes = fx.repack_transient;
  // Loading peaks while a tensor is repacked, before the cache and buffers exist.
  const uint64_t fixed = p.resident_weight_bytes + p.metadata_bytes + p.overhead_bytes;
  p.predicted_peak_bytes = std::max(fixed + p.kv_bytes + p.buffer_bytes, fixed + fx.repack_transient);
  p.fits = p.predicted_peak_bytes <= p.available_bytes;
}

}  // namespace

MemoryPlan make_plan(const PlanRequest& request) {
  const auto file = GgufFile::open(request.model_path);
  return make_plan(*file, request);
}

MemoryPlan make_plan(const GgufFile& f, const PlanRequest& request) {
  if (request.n_parallel < 1) throw InputError("--parallel must be at least 1");
  Fixed fx;
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  fx.config = read_gguf_hparams(f, tokens && tokens->type == GgufType::ARRAY ? int(tokens->arr.size()) : 0);
  fx.metadata = metadata_bytes(f);
  std::map<TypeId, TypeBytes> by_type;
  bool tied = true;
  uint64_t p_repacked = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    TypeBytes& tb = by_type[t.type];
    tb.type = type_info(t.type).name;
    tb.bytes += t.nbytes;
    ++tb.n_tensors;
    fx.weight_bytes += t.nbytes;
    if (t.name == "output.weight") tied = false;
    // As model/repack.cpp: the weight matrices, not the token embedding.
    if (request.repack && t.n_dims == 2 && t.name != "token_embd.weight" && repacks(t.type, t.ne[0], t.ne[1])) {
      const uint64_t packed = kernels::packed_format(t.type)->bytes(t.ne[0], t.ne[1]);
      fx.repack_extra += packed > t.nbytes ? packed - t.nbytes : 0;
      fx.repack_transient = std::max<uint64_t>(fx.repack_transient, repack_slice_bytes(t.type, t.ne[0], t.ne[1]));
      p_repacked += packed;
    }
  }
  if (const GgufTensorInfo* e = f.find_tensor("token_embd.weight"); e && !tied) {
    fx.embd_bytes = e->nbytes;
    fx.embd_row_bytes = e->ne[1] > 0 ? e->nbytes / uint64_t(e->ne[1]) : e->nbytes;
  }

  MemoryPlan p;
  p.request = request;
  p.arch = fx.config.arch;
  p.file_type = file_type_of(f);
  for (const auto& [id, tb] : by_type) p.weights_by_type.push_back(tb);
  std::sort(p.weights_by_type.begin(), p.weights_by_type.end(),
            [](const TypeBytes& a, const TypeBytes& b) { return a.bytes > b.bytes; });
  p.weight_bytes = fx.weight_bytes;
  p.repacked_bytes = p_repacked;
  if (request.memory_budget >= 0) {
    p.available_bytes = uint64_t(request.memory_budget);
    p.available_from = "--memory-budget";
  } else {
    p.available_bytes = detect_cpu().ram_available_bytes;
    p.available_from = "available RAM (MemAvailable)";
  }
  fill_dynamic(fx, p);
  if (p.fits) return p;

  // The longest context that fits (a multiple of 256 when that long).
  int lo = 0, hi = p.request.n_ctx - 1;
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    MemoryPlan q = p;
    q.request.n_ctx = mid;
    fill_dynamic(fx, q);
    if (q.fits) lo = mid; else hi = mid - 1;
  }
  p.fitting_ctx = lo >= 256 ? lo / 256 * 256 : lo;

  // The largest quantization (best quality) that fits at the asked context.
  for (const FileTypeInfo& ft : file_types()) {
    uint64_t bytes = 0;
    try {
      bytes = quantized_tensor_bytes(f, ft.name);
    } catch (const InputError&) {
      continue;  // a type this model cannot take
    }
    if (bytes >= fx.weight_bytes) continue;
    Fixed q = fx;
    q.weight_bytes = bytes;
    q.embd_bytes = uint64_t(double(fx.embd_bytes) * double(bytes) / double(fx.weight_bytes));
    q.embd_row_bytes = uint64_t(double(fx.embd_row_bytes) * double(bytes) / double(fx.weight_bytes));
    q.repack_extra = 0;
    q.repack_transient = uint64_t(double(fx.repack_transient) * double(bytes) / double(fx.weight_bytes));
    MemoryPlan alt = p;
    fill_dynamic(q, alt);
    if (alt.fits && (!p.fitting_type || bytes > p.fitting_type->weight_bytes))
      p.fitting_type = PlanAlternative{ft.name, bytes, alt.predicted_peak_bytes};
  }
  return p;
}

namespace {

constexpr double kMiB = 1024.0 * 1024.0, kGiB = kMiB * 1024.0;

// Sizes of one message in one unit: GiB from 1 GiB up, else MiB.
struct Unit {
  double div;
  const char* name;
  explicit Unit(uint64_t largest) : div(largest >= (1ull << 30) ? kGiB : kMiB), name(largest >= (1ull << 30) ? "GiB" : "MiB") {}
  std::string operator()(uint64_t b) const {
    char s[32];
    std::snprintf(s, sizeof s, "%.1f", double(b) / div);
    return s;
  }
};

}  // namespace

std::string plan_summary(const MemoryPlan& p) {
  const Unit u(p.predicted_peak_bytes), avail(p.available_bytes);
  const uint64_t other = p.metadata_bytes + p.overhead_bytes;
  std::string s = "needs " + u(p.predicted_peak_bytes) + " " + u.name + ": weights " + u(p.resident_weight_bytes) +
                  ", KV " + u(p.kv_bytes) + " for ctx " + std::to_string(p.request.n_ctx);
  if (p.request.n_parallel > 1) s += " x " + std::to_string(p.request.n_parallel) + " sequences";
  s += ", buffers " + u(p.buffer_bytes) + ", runtime " + u(other) + "; " + avail(p.available_bytes) + " " + avail.name +
       " available";
  if (p.available_from == "--memory-budget") s += " (--memory-budget)";
  if (p.fits) return s + "; fits";
  std::vector<std::string> ways;
  if (p.fitting_type)
    ways.push_back(p.fitting_type->type + " (" + u(p.fitting_type->peak_bytes) + " " + u.name + ")");
  if (p.fitting_ctx > 0) ways.push_back("--ctx " + std::to_string(p.fitting_ctx));
  if (ways.empty()) return s + "; no smaller quantization or context fits";
  s += "; " + ways[0];
  if (ways.size() > 1) s += " or " + ways[1];
  return s + " fits";
}

std::string plan_text(const MemoryPlan& p) {
  std::string s;
  auto line = [&](const std::string& what, uint64_t b, const std::string& note = "") {
    char buf[192];
    std::snprintf(buf, sizeof buf, "  %-22s %12s%s%s\n", what.c_str(), format_bytes(double(b)).c_str(),
                  note.empty() ? "" : "  ", note.c_str());
    s += buf;
  };
  s += "model:   " + p.request.model_path + " (" + p.arch + (p.file_type.empty() ? "" : " " + p.file_type) + ")\n";
  s += "device:  " + p.request.device.name + " — " + p.request.device.reason + "\n";
  s += "context: " + std::to_string(p.request.n_ctx) + " tokens x " + std::to_string(p.request.n_parallel) +
       " sequence(s), batch " + std::to_string(p.request.n_batch) + ", " + std::to_string(p.request.n_threads) +
       " threads, KV cache " + type_info(p.request.cache_type.k).name + " K, " +
       type_info(p.request.cache_type.v).name + " V in " + std::to_string(p.request.kv_block) + "-token blocks\n";
  s += "weights by type:\n";
  for (const TypeBytes& t : p.weights_by_type) line(t.type, t.bytes, std::to_string(t.n_tensors) + " tensors");
  s += "memory:\n";
  line("weights (resident)", p.resident_weight_bytes,
       p.resident_weight_bytes < p.weight_bytes ? "of " + format_bytes(double(p.weight_bytes)) + " (untouched embedding rows stay on disk)" : "");
  if (p.repacked_bytes > 0)
    line("  repacked at load", p.repacked_bytes,
         "for the kernels, in place of the file's pages (+" + format_bytes(double(p.repack_transient_bytes)) +
             " while packing; --no-repack: none)");
  line("KV cache", p.kv_bytes,
       std::to_string(p.kv_blocks) + " blocks of " + format_bytes(double(p.kv_block_bytes)) + ", " +
           std::to_string(p.kv_bytes_per_token) + " B/token");
  line("compute buffers", p.buffer_bytes);
  line("metadata, tokenizer", p.metadata_bytes);
  line("runtime overhead", p.overhead_bytes);
  line("predicted peak", p.predicted_peak_bytes);
  line("available", p.available_bytes, p.available_from);
  s += (p.fits ? "fits: " : "does not fit: ") + plan_summary(p) + "\n";
  return s;
}

std::string plan_json(const MemoryPlan& p) {
  nlohmann::ordered_json j;
  j["model"] = p.request.model_path;
  j["arch"] = p.arch;
  j["file_type"] = p.file_type;
  j["device"] = {{"name", p.request.device.name}, {"reason", p.request.device.reason}};
  j["n_ctx"] = p.request.n_ctx;
  j["n_parallel"] = p.request.n_parallel;
  j["n_batch"] = p.request.n_batch;
  j["n_threads"] = p.request.n_threads;
  j["cache_type_k"] = type_info(p.request.cache_type.k).name;
  j["cache_type_v"] = type_info(p.request.cache_type.v).name;
  j["kv_block"] = p.request.kv_block;
  j["kv_blocks"] = p.kv_blocks;
  j["kv_block_bytes"] = p.kv_block_bytes;
  nlohmann::ordered_json types = nlohmann::ordered_json::array();
  for (const TypeBytes& t : p.weights_by_type) types.push_back({{"type", t.type}, {"bytes", t.bytes}, {"tensors", t.n_tensors}});
  j["weights_by_type"] = types;
  j["weight_bytes"] = p.weight_bytes;
  j["resident_weight_bytes"] = p.resident_weight_bytes;
  j["repacked_bytes"] = p.repacked_bytes;
  j["repack_transient_bytes"] = p.repack_transient_bytes;
  j["kv_bytes_per_token"] = p.kv_bytes_per_token;
  j["kv_bytes"] = p.kv_bytes;
  j["buffer_bytes"] = p.buffer_bytes;
  j["metadata_bytes"] = p.metadata_bytes;
  j["overhead_bytes"] = p.overhead_bytes;
  j["predicted_peak_bytes"] = p.predicted_peak_bytes;
  j["available_bytes"] = p.available_bytes;
  j["available_from"] = p.available_from;
  j["fits"] = p.fits;
  j["fitting_type"] = p.fitting_type ? nlohmann::ordered_json{{"type", p.fitting_type->type},
                                                              {"weight_bytes", p.fitting_type->weight_bytes},
                                                              {"predicted_peak_bytes", p.fitting_type->peak_bytes}}
                                     : nlohmann::ordered_json(nullptr);
  j["fitting_ctx"] = p.fitting_ctx > 0 ? nlohmann::ordered_json(p.fitting_ctx) : nlohmann::ordered_json(nullptr);
  j["summary"] = plan_summary(p);
  return j.dump(2);
}

}  // namespace qinfer
