// 1,000 random sequences of submit / cancel / step on a small engine (a pool
// too small for everyone, so requests queue and get preempted; shared
// prompt prefixes, so blocks are shared and copied), checked after every step
// against a reference model of the pool built from the sequences' block
// tables (Engine::check): no leaked, lost or double-freed block. At the end
// every request has finished exactly once and the pool holds no owned block.
// Also built with ASan/UBSan (label sanitize).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "qinfer/core/error.h"
#include "qinfer/model/create.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/engine.h"

using namespace qinfer;

namespace {

// A tiny random Llama (GQA, head dimension 32 so every cache type applies),
// written once per test binary.
const Model& tiny_model() {
  static std::unique_ptr<Model> model = [] {
    const auto path = std::filesystem::temp_directory_path() /
                      ("qinfer-engine-faults-" + std::to_string(::getpid()) + ".gguf");
    CreateOptions o;
    o.shape.arch = "llama";
    o.shape.name = "tiny";
    o.shape.n_vocab = 320;
    o.shape.n_ctx_train = 256;
    o.shape.n_embd = 64;
    o.shape.n_ff = 96;
    o.shape.n_layer = 2;
    o.shape.n_head = 2;
    o.shape.n_head_kv = 1;
    o.type = TypeId::Q8_0;
    o.n_threads = 1;
    create_model(path.string(), o);
    auto m = load_model(path.string());
    std::filesystem::remove(path);  // the mapping stays valid
    return m;
  }();
  return *model;
}

}  // namespace

TEST(EngineFaults, RandomSubmitCancelStepNeverLeaksBlocks) {
  const Model& m = tiny_model();
  std::mt19937 rng(777);
  const KvCacheType types[] = {{TypeId::F16, TypeId::F16}, {TypeId::Q8_0, TypeId::Q8_0}, {TypeId::Q4_0, TypeId::F16}};
  for (int round = 0; round < 1000; ++round) {
    EngineParams ep;
    ep.n_ctx = 128;
    ep.max_seqs = 1 + int(rng() % 5);
    ep.prefill_chunk = 1 + int(rng() % 40);
    ep.kv_budget_tokens = 64 + int(rng() % 96);  // 4 to 9 blocks
    ep.prefix_cache = rng() % 4 != 0;
    ep.cache_type = types[rng() % 3];
    ep.n_threads = 1;
    Engine engine(m, ep);
    std::map<uint64_t, int> finished;  // id -> times finished
    std::set<uint64_t> submitted;
    const std::vector<int32_t> shared = {1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57};
    const int ops = 5 + int(rng() % 25);
    for (int op = 0; op < ops; ++op) {
      const int kind = int(rng() % 4);
      if (kind == 0) {
        EngineRequest r;
        const int n = 1 + int(rng() % 50);
        // Half the prompts start with the same tokens: prefix sharing and copy-on-write.
        for (int i = 0; i < n; ++i)
          r.prompt.push_back(rng() % 2 && i < int(shared.size()) ? shared[size_t(i)] : int32_t(3 + rng() % 300));
        r.max_tokens = 1 + int(rng() % 40);
        r.sampling.temp = rng() % 2 ? 0.0f : 0.8f;
        r.sampling.seed = rng();
        if (rng() % 3 == 0) r.stop_tokens = {int32_t(3 + rng() % 300)};
        r.on_finish = [&finished](const FinishEvent& e) { ++finished[e.request]; };
        try {
          submitted.insert(engine.submit(std::move(r)));
        } catch (const InputError&) {
          // a request that could never fit this pool: rejected, nothing queued
        }
      } else if (kind == 1 && !submitted.empty()) {
        auto it = submitted.begin();
        std::advance(it, ptrdiff_t(rng() % submitted.size()));
        engine.cancel(*it);
      } else {
        for (int k = 1 + int(rng() % 4); k > 0; --k) engine.step();
      }
      ASSERT_NO_THROW(engine.check()) << "round " << round << " op " << op;
    }
    engine.drain();
    ASSERT_NO_THROW(engine.check());
    const EngineStats st = engine.stats();
    ASSERT_EQ(st.blocks_used, 0) << "round " << round;
    ASSERT_EQ(st.running + st.waiting, 0);
    ASSERT_EQ(st.blocks_used + st.blocks_cached + st.blocks_free, st.blocks_total);
    for (uint64_t id : submitted) ASSERT_EQ(finished[id], 1) << "request " << id << " finished " << finished[id] << " times";
    ASSERT_EQ(finished.size(), submitted.size());
  }
}
