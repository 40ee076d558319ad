// The memory plan: its parts against what the engine and quantize really
// allocate and write, its decisions, and its prediction against the measured
// peak RSS of the same load in a child process.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/model/model.h"
#include "qinfer/plan/memory_plan.h"
#include "qinfer/quantize/quantize_model.h"
#include "qinfer/runtime/context.h"
#include "qinfer/runtime/engine.h"
#include "qinfer/store/results_store.h"
#include "test_util.h"

namespace qinfer {
namespace {

using test::data_path;
using test::run_qinfer;
using test::scratch_dir;

const std::string kStories = "models/stories260K/stories260K.gguf";
const std::string kTiny = "golden/tiny256/tiny256-F32.gguf";
constexpr uint64_t kMiB = 1ull << 20;

// The runtime's own answer for its memory is what a Context and an Engine
// really hold, for every KV cache type and block size.
TEST(MemoryPlan, RuntimeMemoryIsWhatContextAndEngineAllocate) {
  QINFER_REQUIRE_DATA(kTiny);
  auto model = load_model(data_path(kTiny));  // head dimension 32: every cache type
  const KvCacheType q8{TypeId::Q8_0, TypeId::Q8_0}, mixed{TypeId::F16, TypeId::Q4_0};
  for (auto [n_ctx, n_batch, threads, type, block] :
       {std::tuple{64, 512, 1, KvCacheType{}, 16}, {512, 128, 2, q8, 32}, {100, 7, 3, mixed, 48}}) {
    ContextParams cp;
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.n_threads = threads;
    cp.cache_type = type;
    cp.kv_block = block;
    Context ctx(*model, cp);
    const RuntimeMemory m = Context::memory(model->config, cp);
    EXPECT_EQ(m.kv_bytes, ctx.kv_cache_bytes()) << n_ctx;
    EXPECT_EQ(m.buffer_bytes(), ctx.buffer_bytes()) << n_ctx;
    EXPECT_EQ(m.kv_bytes_per_token, ctx.kv_bytes_per_token());
    EXPECT_EQ(m.kv_blocks, (n_ctx + block - 1) / block);
    // Perplexity asks for every row of a chunk: the logits grow to that.
    std::vector<int32_t> toks(size_t(std::min(n_ctx, 40)), 1);
    ctx.eval(toks.data(), int(toks.size()), true);
    EXPECT_EQ(Context::memory(model->config, cp, int(toks.size())).buffer_bytes(), ctx.buffer_bytes());

    EngineParams ep;
    ep.n_ctx = n_ctx;
    ep.max_seqs = threads + 1;
    ep.prefill_chunk = n_batch;
    ep.n_threads = threads;
    ep.cache_type = type;
    ep.kv_block = block;
    ep.kv_budget_tokens = threads == 2 ? 1000 : 0;
    Engine engine(*model, ep);
    const RuntimeMemory e = Engine::memory(model->config, ep);
    EXPECT_EQ(e.kv_bytes, engine.kv_cache_bytes()) << n_ctx;
    EXPECT_EQ(e.buffer_bytes(), engine.buffer_bytes()) << n_ctx;
    EXPECT_EQ(int64_t(e.kv_blocks) * block, engine.kv_capacity_tokens());
  }
}

TEST(MemoryPlan, WeightsByTypeAreTheTensorBytes) {
  QINFER_REQUIRE_DATA("golden/tiny256/tiny256-Q4_K_M.gguf");
  const auto f = GgufFile::open(data_path("golden/tiny256/tiny256-Q4_K_M.gguf"));
  PlanRequest r;
  r.n_ctx = 256;
  r.memory_budget = int64_t(1) << 40;
  const MemoryPlan p = make_plan(*f, r);
  uint64_t total = 0, by_type = 0;
  for (const GgufTensorInfo& t : f->tensors()) total += t.nbytes;
  for (const TypeBytes& t : p.weights_by_type) by_type += t.bytes;
  EXPECT_EQ(p.weight_bytes, total);
  EXPECT_EQ(by_type, total);
  EXPECT_GE(p.weights_by_type.size(), 2u);  // a mix: q4_K, q6_K, f32 norms
  EXPECT_EQ(p.file_type, "Q4_K_M");
  EXPECT_TRUE(p.fits);
  EXPECT_EQ(p.predicted_peak_bytes,
            p.resident_weight_bytes + p.metadata_bytes + p.kv_bytes + p.buffer_bytes + p.overhead_bytes);
}

// "Sizes quantize would produce": the same bytes quantize_model writes.
TEST(MemoryPlan, QuantizedSizesAreWhatQuantizeWrites) {
  QINFER_REQUIRE_DATA(kTiny);
  const auto f = GgufFile::open(data_path(kTiny));
  for (const char* type : {"Q8_0", "Q4_K_M", "Q3_K_S"}) {
    QuantizeParams qp;
    qp.input = data_path(kTiny);
    qp.output = (scratch_dir() / (std::string(type) + ".gguf")).string();
    qp.type = type;
    qp.threads = 1;
    const QuantizeSummary s = quantize_model(qp);
    EXPECT_EQ(quantized_tensor_bytes(*f, type), s.output_bytes) << type;
  }
}

// Too little memory: the plan says so with the numbers, and what fits instead.
TEST(MemoryPlan, WhatFitsWhenTheLoadDoesNot) {
  QINFER_REQUIRE_DATA(kTiny);
  const auto f = GgufFile::open(data_path(kTiny));
  PlanRequest r;
  r.n_ctx = 4096;
  r.n_threads = 1;
  r.memory_budget = int64_t(1) << 40;
  const MemoryPlan big = make_plan(*f, r);
  ASSERT_TRUE(big.fits);
  // Just below the need: a shorter context or a smaller type fits.
  r.memory_budget = int64_t(big.predicted_peak_bytes) - 1;
  const MemoryPlan p = make_plan(*f, r);
  EXPECT_FALSE(p.fits);
  ASSERT_TRUE(p.fitting_type.has_value());
  EXPECT_LT(p.fitting_type->weight_bytes, p.weight_bytes);
  EXPECT_LE(p.fitting_type->peak_bytes, uint64_t(r.memory_budget));
  EXPECT_GT(p.fitting_ctx, 0);
  EXPECT_LT(p.fitting_ctx, 4096);
  PlanRequest at = r;
  at.n_ctx = p.fitting_ctx;
  EXPECT_TRUE(make_plan(*f, at).fits);
  const std::string s = plan_summary(p);
  EXPECT_NE(s.find("needs "), std::string::npos) << s;
  EXPECT_NE(s.find("KV "), std::string::npos) << s;
  EXPECT_NE(s.find("for ctx 4096"), std::string::npos) << s;
  EXPECT_NE(s.find(p.fitting_type->type + " ("), std::string::npos) << s;
  EXPECT_NE(s.find("--ctx " + std::to_string(p.fitting_ctx) + " fits"), std::string::npos) << s;
  // Nothing fits in a megabyte.
  r.memory_budget = int64_t(kMiB);
  const MemoryPlan none = make_plan(*f, r);
  EXPECT_FALSE(none.fits);
  EXPECT_FALSE(none.fitting_type.has_value());
  EXPECT_NE(plan_summary(none).find("no smaller quantization or context fits"), std::string::npos);
}

TEST(CliPlan, JsonAndRefusal) {
  QINFER_REQUIRE_DATA(kTiny);
  auto r = run_qinfer("plan " + data_path(kTiny) + " --ctx 512 --json --memory-budget 64G");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["predicted_peak_bytes"].get<uint64_t>(), j["weight_bytes"].get<uint64_t>());
  EXPECT_EQ(j["n_ctx"], 512);
  EXPECT_EQ(j["fits"], true);
  EXPECT_EQ(j["device"]["name"], "cpu");
  auto text = run_qinfer("plan -m " + data_path(kTiny));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("predicted peak"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("KV cache"), std::string::npos) << text.out;
  // run/bench/eval refuse before loading, with the plan's line; --force loads anyway.
  const std::string text_flag = " -f " + data_path("text/tinystories-valid-a.txt");
  for (const std::string& cmd : std::vector<std::string>{"run -n 1 -c 4096", "bench -p 4096 -n 0 -r 1", "eval -c 4096" + text_flag, "perplexity -c 4096" + text_flag}) {
    auto refused = run_qinfer(cmd + " -m " + data_path(kTiny) + " --memory-budget 20M");
    EXPECT_EQ(refused.exit_code, 2) << cmd;
    EXPECT_NE(refused.err.find("needs "), std::string::npos) << cmd << ": " << refused.err;
    EXPECT_NE(refused.err.find("20.0 MiB available (--memory-budget)"), std::string::npos) << cmd << ": " << refused.err;
    EXPECT_NE(refused.err.find("--force"), std::string::npos) << cmd << ": " << refused.err;
    EXPECT_EQ(test::count_lines(refused.err), 1) << cmd << ": " << refused.err;
  }
  auto forced = run_qinfer("run -n 1 -c 64 -m " + data_path(kTiny) + " --memory-budget 1M --force --no-stats");
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  auto bad = run_qinfer("run -n 1 -m " + data_path(kTiny) + " --memory-budget lots");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--memory-budget lots"), std::string::npos) << bad.err;
}

// Peak RSS of a child `qinfer bench` as it measures and stores it itself
// (core/peak_rss: the child's own VmHWM; wait4's ru_maxrss would fold in this
// test process's peak, which exec replaced).
uint64_t stored_peak_rss(const std::string& bench_args, const std::string& db) {
  std::filesystem::remove(db);
  const auto r = run_qinfer("bench " + bench_args + " --db " + db);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<RunRecord> runs = ResultStore(db, ResultStore::Mode::ReadOnly).list();
  EXPECT_EQ(runs.size(), 1u);
  const std::optional<double> peak = runs.empty() ? std::nullopt : runs[0].find(metric::kPeakRssBytes);
  EXPECT_TRUE(peak.has_value());
  return peak ? uint64_t(*peak) : 0;
}

uint64_t bench_peak_rss(const std::string& model, int n_ctx, const std::string& db, const std::string& extra = "") {
  return stored_peak_rss("-m " + model + " -p " + std::to_string(n_ctx) + " -n 0 -r 1 -t 1" + extra, db);
}

// The prediction against the measured peak of the same load: the model and a
// full context (a prefill of n_ctx tokens, `bench -p n_ctx`, one thread),
// within 10 % or 16 MiB, whichever is larger.
TEST(MemoryPlan, PredictionMatchesMeasuredPeakRss) {
  QINFER_REQUIRE_DATA(kStories);
  QINFER_REQUIRE_DATA(kTiny);
  const auto dir = scratch_dir();
  struct Source {
    std::string name, path;
    int n_ctx;
  };
  // tinyllama-mini: TinyLlama-1.1B's structure (32000-token vocabulary, untied
  // classifier, GQA 8:1) at a size a unit test can prefill.
  const std::string mini = (dir / "tinyllama-mini-F32.gguf").string();
  ASSERT_EQ(run_qinfer("create --preset tinyllama-mini --type f32 -o " + mini).exit_code, 0);
  const std::vector<Source> sources = {
      {"stories260K", data_path(kStories), 512}, {"tiny256", data_path(kTiny), 256}, {"tinyllama-mini", mini, 256}};
  for (const Source& src : sources) {
    for (const std::string type : {"F32", "F16", "Q8_0", "Q4_0", "Q4_K_M"}) {
      std::string path = src.path;
      if (type != "F32") {
        path = (dir / (src.name + "-" + type + ".gguf")).string();
        ASSERT_EQ(run_qinfer("quantize " + src.path + " " + path + " " + type + " 1").exit_code, 0) << type;
      }
      PlanRequest r;
      r.model_path = path;
      r.n_ctx = src.n_ctx;
      r.n_threads = 1;
      r.memory_budget = int64_t(1) << 40;
      const MemoryPlan p = make_plan(r);
      const uint64_t measured = bench_peak_rss(path, src.n_ctx, (dir / "peak.db").string());
      const double err = std::fabs(double(p.predicted_peak_bytes) - double(measured));
      const double allowed = std::max(0.10 * double(measured), double(16 * kMiB));
      EXPECT_LE(err, allowed) << src.name << " " << type << ": predicted " << p.predicted_peak_bytes / kMiB
                              << " MiB, measured " << measured / kMiB << " MiB\n" << plan_text(p);
      std::printf("%-14s %-6s predicted %7.1f MiB  measured %7.1f MiB\n", src.name.c_str(), type.c_str(),
                  double(p.predicted_peak_bytes) / kMiB, double(measured) / kMiB);
    }
  }
  // A quantized KV cache in larger blocks: the pool's bytes per block follow the types.
  PlanRequest r;
  r.model_path = (dir / "tinyllama-mini-F16.gguf").string();
  r.n_ctx = 1024;
  r.n_threads = 1;
  r.cache_type = {TypeId::Q8_0, TypeId::Q4_0};
  r.kv_block = 64;
  r.memory_budget = int64_t(1) << 40;
  const MemoryPlan p = make_plan(r);
  const uint64_t measured = bench_peak_rss(r.model_path, r.n_ctx, (dir / "peak.db").string(),
                                           " --cache-type-k q8_0 --cache-type-v q4_0 --kv-block 64");
  EXPECT_LE(std::fabs(double(p.predicted_peak_bytes) - double(measured)),
            std::max(0.10 * double(measured), double(16 * kMiB)))
      << plan_text(p);
  std::printf("tinyllama-mini F16, KV q8_0/q4_0 ctx 1024: predicted %7.1f MiB  measured %7.1f MiB\n",
              double(p.predicted_peak_bytes) / kMiB, double(measured) / kMiB);
}

// --parallel through the batching engine: 8 sequences, each filling its
// context at once (`bench --concurrency 8`: prompt + generated tokens = the
// context), on a model whose KV pool is most of the peak, so a plan that
// missed the parallel sequences (or the pool's block rounding) would fail.
TEST(MemoryPlan, ParallelPredictionMatchesMeasuredPeakRss) {
  const auto dir = scratch_dir();
  const std::string path = (dir / "kv-heavy.gguf").string();  // 8 layers of 4 full KV heads: 8 KiB of KV a token
  ASSERT_EQ(run_qinfer("create --preset stories15m --layers 8 --embd 256 --ff 512 --heads 4 --kv-heads 4 --vocab 512 "
                       "--ctx 1024 --type q8_0 -q -o " + path).exit_code, 0);
  const int n_parallel = 8, input_len = 512, max_tokens = 8;
  PlanRequest r;
  r.model_path = path;
  r.n_ctx = input_len + max_tokens + 1;  // bench's engine context for these requests
  r.n_parallel = n_parallel;
  r.n_batch = EngineParams{}.prefill_chunk;
  r.n_threads = 1;
  r.memory_budget = int64_t(1) << 40;
  const MemoryPlan p = make_plan(r);
  ASSERT_GT(p.kv_bytes, 2 * 16 * kMiB) << "the KV pool must outweigh the tolerance for the check to mean anything";
  const std::string n = std::to_string(n_parallel);
  const uint64_t measured = stored_peak_rss("-m " + path + " --concurrency " + n + " --num-requests " + n +
                                                " --input-len " + std::to_string(input_len) + " --max-tokens " +
                                                std::to_string(max_tokens) + " -t 1",
                                            (dir / "parallel.db").string());
  EXPECT_LE(std::fabs(double(p.predicted_peak_bytes) - double(measured)),
            std::max(0.10 * double(measured), double(16 * kMiB)))
      << plan_text(p);
  std::printf("kv-heavy Q8_0, ctx %d x %d sequences: predicted %7.1f MiB (KV %.1f)  measured %7.1f MiB\n", r.n_ctx,
              n_parallel, double(p.predicted_peak_bytes) / kMiB, double(p.kv_bytes) / kMiB, double(measured) / kMiB);
}

}  // namespace
}  // namespace qinfer
