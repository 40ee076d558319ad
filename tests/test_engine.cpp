// The continuous-batching engine: batching does not change results (greedy
// output of every sequence in a batch equals Context + generate alone, token
// for token, for F32/Q8_0/Q4_0 stories260K on every ISA), cancellation frees
// blocks at once, prefix reuse gives the same tokens from fewer computed
// ones, preemption under a small pool recomputes exactly, requests that can
// never fit are rejected, and the loop thread serves submits from other threads.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "qinfer/core/error.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/model/model.h"
#include "qinfer/runtime/engine.h"
#include "qinfer/runtime/generate.h"
#include "greedy.h"
#include "isa_test.h"
#include "test_util.h"

using namespace qinfer;
using kernels::Isa;

namespace {

const char* kStories = "models/stories260K/stories260K.gguf";

// Prompts of mixed lengths: real text and random token runs.
std::vector<std::vector<int32_t>> prompts(const Model& m, int count, uint32_t seed) {
  const char* texts[] = {"Once upon a time", "Lily and Tom went to the park", "The sun was hot. A little dog",
                         "One day, a big bird flew over the house and saw"};
  std::vector<std::vector<int32_t>> out;
  std::mt19937 rng(seed);
  for (int i = 0; i < count; ++i) {
    if (i < 4) {
      out.push_back(m.tokenizer->encode(texts[i], true, false));
    } else {
      std::vector<int32_t> p = {1};
      const int n = 1 + int(rng() % 90);
      for (int k = 0; k < n; ++k) p.push_back(3 + int32_t(rng() % 500));
      out.push_back(p);
    }
  }
  return out;
}

struct Collected {
  std::mutex mu;
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, FinishEvent> finished;
};

EngineRequest greedy_request(const std::vector<int32_t>& prompt, int n, Collected& c) {
  EngineRequest r;
  r.prompt = prompt;
  r.sampling.temp = 0;
  r.max_tokens = n;
  r.on_token = [&c](const TokenEvent& e) {
    std::lock_guard lock(c.mu);
    c.tokens[e.request].push_back(e.token);
  };
  r.on_finish = [&c](const FinishEvent& e) {
    std::lock_guard lock(c.mu);
    c.finished[e.request] = e;
  };
  return r;
}

class EngineIsa : public test::IsaTest {};

}  // namespace

// Eight sequences of mixed lengths, half of them joining after a few steps,
// prompts prefilled in small chunks beside other sequences' decode tokens.
TEST_P(EngineIsa, BatchOfEightEqualsEachAlone) {
  for (const char* file : {kStories, "golden/stories260K/stories260K-Q8_0.gguf", "golden/stories260K/stories260K-Q4_0.gguf"}) {
    if (!std::filesystem::exists(test::data_path(file))) GTEST_SKIP() << "missing " << file;
    SCOPED_TRACE(file);
    auto m = load_model(test::data_path(file));
    const auto ps = prompts(*m, 8, 7);
    const int n_gen = 24;
    EngineParams ep;
    ep.n_ctx = 256;
    ep.max_seqs = 8;
    ep.prefill_chunk = 20;
    ep.n_threads = 1;
    Engine engine(*m, ep);
    Collected c;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(engine.submit(greedy_request(ps[size_t(i)], n_gen, c)));
    for (int s = 0; s < 3; ++s) engine.step();
    for (int i = 4; i < 8; ++i) {
      ids.push_back(engine.submit(greedy_request(ps[size_t(i)], n_gen, c)));
      engine.step();
    }
    engine.drain();
    for (int i = 0; i < 8; ++i) {
      const auto want = test::greedy_tokens(*m, ps[size_t(i)], n_gen);
      EXPECT_EQ(c.tokens[ids[size_t(i)]], want) << "sequence " << i << " (" << ps[size_t(i)].size() << " prompt tokens)";
      EXPECT_EQ(c.finished[ids[size_t(i)]].reason, FinishReason::Length);
    }
    const EngineStats st = engine.stats();
    EXPECT_EQ(st.blocks_used, 0);
    EXPECT_EQ(st.running + st.waiting, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, EngineIsa, ::testing::ValuesIn(test::all_isas()), test::isa_test_name);

TEST(Engine, CancelMidPrefillAndMidDecodeFreesBlocks) {
  QINFER_REQUIRE_DATA(kStories);
  auto m = load_model(test::data_path(kStories));
  EngineParams ep;
  ep.n_ctx = 256;
  ep.prefill_chunk = 8;
  ep.n_threads = 1;
  ep.prefix_cache = false;  // nothing stays cached: the pool must be empty
  Engine engine(*m, ep);
  Collected c;
  std::vector<int32_t> long_prompt(100, 300);
  long_prompt[0] = 1;
  const uint64_t a = engine.submit(greedy_request(long_prompt, 50, c));  // 13 steps of prefill
  const uint64_t b = engine.submit(greedy_request({1, 403, 407}, 50, c));
  engine.step();
  engine.step();
  EXPECT_GT(engine.stats().blocks_used, 0);
  EXPECT_TRUE(engine.cancel(a));  // mid-prefill
  for (int i = 0; i < 5; ++i) engine.step();
  EXPECT_TRUE(engine.cancel(b));  // mid-decode
  EXPECT_FALSE(engine.cancel(12345));
  engine.step();
  const EngineStats st = engine.stats();
  EXPECT_EQ(st.blocks_used, 0);
  EXPECT_EQ(st.blocks_free, st.blocks_total);
  EXPECT_EQ(c.finished[a].reason, FinishReason::Cancelled);
  EXPECT_EQ(c.finished[b].reason, FinishReason::Cancelled);
  EXPECT_FALSE(engine.step());  // nothing left
}

TEST(Engine, PrefixReuseGivesTheSameTokens) {
  QINFER_REQUIRE_DATA(kStories);
  auto m = load_model(test::data_path(kStories));
  EngineParams ep;
  ep.n_ctx = 256;
  ep.n_threads = 1;
  Engine engine(*m, ep);
  Collected c;
  std::vector<int32_t> system(40);
  for (int i = 0; i < 40; ++i) system[size_t(i)] = 3 + (i * 37) % 500;
  system[0] = 1;
  std::vector<int32_t> p1 = system, p2 = system;
  p1.insert(p1.end(), {403, 407, 261});
  p2.insert(p2.end(), {317, 269, 274, 287});
  const uint64_t a = engine.submit(greedy_request(p1, 20, c));
  engine.drain();
  const uint64_t b = engine.submit(greedy_request(p2, 20, c));
  const uint64_t d = engine.submit(greedy_request(p1, 20, c));  // the same prompt again
  engine.drain();
  EXPECT_EQ(c.finished[a].n_cached, 0);
  EXPECT_EQ(c.finished[b].n_cached, 40);  // two full blocks and a copy of 8 rows of the third
  EXPECT_EQ(c.finished[d].n_cached, int(p1.size()) - 1);
  EXPECT_EQ(c.tokens[a], test::greedy_tokens(*m, p1, 20));
  EXPECT_EQ(c.tokens[b], test::greedy_tokens(*m, p2, 20));
  EXPECT_EQ(c.tokens[d], c.tokens[a]);
  EXPECT_GT(engine.stats().prefix_hit_rate(), 0.5);
  EXPECT_EQ(engine.stats().blocks_used, 0);
}

TEST(Engine, SmallPoolPreemptsAndRecomputesExactly) {
  QINFER_REQUIRE_DATA(kStories);
  auto m = load_model(test::data_path(kStories));
  EngineParams ep;
  ep.n_ctx = 256;
  ep.max_seqs = 6;
  ep.n_threads = 1;
  ep.kv_budget_tokens = 6 * 16;  // 6 blocks for 6 sequences that need 3-5 blocks each
  for (bool prefix : {false, true}) {
    ep.prefix_cache = prefix;
    Engine engine(*m, ep);
    Collected c;
    const auto ps = prompts(*m, 6, 3);
    std::vector<uint64_t> ids;
    for (const auto& p : ps) ids.push_back(engine.submit(greedy_request(std::vector<int32_t>(p.begin(), p.begin() + std::min<size_t>(p.size(), 40)), 30, c)));
    engine.drain();
    EXPECT_GT(engine.stats().preemptions, 0);
    for (size_t i = 0; i < ps.size(); ++i)
      EXPECT_EQ(c.tokens[ids[i]], test::greedy_tokens(*m, std::vector<int32_t>(ps[i].begin(), ps[i].begin() + std::min<size_t>(ps[i].size(), 40)), 30))
          << "sequence " << i << " prefix cache " << prefix;
    EXPECT_EQ(engine.stats().blocks_used, 0);
  }
}

TEST(Engine, RejectsWhatCanNeverFit) {
  QINFER_REQUIRE_DATA(kStories);
  auto m = load_model(test::data_path(kStories));
  EngineParams ep;
  ep.n_ctx = 128;
  ep.kv_budget_tokens = 64;
  ep.n_threads = 1;
  Engine engine(*m, ep);
  Collected c;
  try {
    engine.submit(greedy_request(std::vector<int32_t>(40, 5), 30, c));
    FAIL() << "accepted a request needing 69 tokens of a 64-token pool";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("69 tokens"), std::string::npos) << msg;
    EXPECT_NE(msg.find("64 tokens"), std::string::npos) << msg;
  }
  EXPECT_THROW(engine.submit(greedy_request({}, 5, c)), InputError);
  EXPECT_THROW(engine.submit(greedy_request({1, 512}, 5, c)), InputError);
  EXPECT_THROW(engine.submit(greedy_request(std::vector<int32_t>(129, 5), 5, c)), InputError);
  EXPECT_NO_THROW(engine.submit(greedy_request(std::vector<int32_t>(40, 5), 25, c)));
}

TEST(Engine, LoopThreadServesOtherThreads) {
  QINFER_REQUIRE_DATA(kStories);
  auto m = load_model(test::data_path(kStories));
  EngineParams ep;
  ep.n_ctx = 256;
  ep.max_seqs = 4;
  ep.n_threads = 1;
  Engine engine(*m, ep);
  engine.start();
  Collected c;
  const auto ps = prompts(*m, 12, 11);
  std::vector<uint64_t> ids(ps.size());
  std::vector<std::thread> clients;
  for (int k = 0; k < 3; ++k)
    clients.emplace_back([&, k] {
      for (size_t i = size_t(k); i < ps.size(); i += 3) ids[i] = engine.submit(greedy_request(ps[i], 12, c));
    });
  for (auto& t : clients) t.join();
  const uint64_t extra = engine.submit(greedy_request(ps[0], 200, c));
  std::thread canceller([&] { engine.cancel(extra); });
  canceller.join();
  engine.drain();
  engine.stop();
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_EQ(c.tokens[ids[i]], test::greedy_tokens(*m, ps[i], 12)) << i;
  EXPECT_NE(c.finished.count(extra), 0u);
  EXPECT_EQ(engine.stats().blocks_used, 0);
}

TEST(Engine, LogprobsStopTokensAndSeededSampling) {
  QINFER_REQUIRE_DATA(kStories);
  auto m = load_model(test::data_path(kStories));
  EngineParams ep;
  ep.n_ctx = 128;
  ep.n_threads = 1;
  Engine engine(*m, ep);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  // Greedy with top logprobs: the token is the most likely, its logprob the first.
  std::vector<TokenEvent> events;
  std::vector<std::vector<TokenLogprob>> tops;
  EngineRequest r;
  r.prompt = prompt;
  r.sampling.temp = 0;
  r.max_tokens = 5;
  r.logprobs = true;
  r.top_logprobs = 3;
  r.on_token = [&](const TokenEvent& e) {
    events.push_back(e);
    tops.emplace_back(e.top, e.top + e.n_top);
  };
  engine.submit(r);
  engine.drain();
  ASSERT_EQ(events.size(), 5u);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(tops[i].size(), 3u);
    EXPECT_EQ(tops[i][0].token, events[i].token);
    EXPECT_FLOAT_EQ(tops[i][0].logprob, events[i].logprob);
    EXPECT_LE(events[i].logprob, 0.0f);
    EXPECT_GE(tops[i][0].logprob, tops[i][1].logprob);
    EXPECT_GE(tops[i][1].logprob, tops[i][2].logprob);
  }
  // A stop token ends the request with reason "stop" and is not emitted.
  Collected c;
  EngineRequest s = greedy_request(prompt, 20, c);
  s.stop_tokens = {events[2].token};
  const uint64_t id = engine.submit(s);
  engine.drain();
  EXPECT_EQ(c.finished[id].reason, FinishReason::Stop);
  EXPECT_EQ(c.finished[id].stop_token, events[2].token);
  EXPECT_EQ(c.tokens[id], (std::vector<int32_t>{events[0].token, events[1].token}));
  // Seeded sampling is reproducible, batched or not.
  Collected d;
  std::vector<uint64_t> seeded;
  for (int i = 0; i < 3; ++i) {
    EngineRequest q = greedy_request(prompt, 16, d);
    q.sampling.temp = 0.9f;
    q.sampling.seed = 1234;
    seeded.push_back(engine.submit(q));
  }
  engine.drain();
  EXPECT_EQ(d.tokens[seeded[0]], d.tokens[seeded[1]]);
  EXPECT_EQ(d.tokens[seeded[0]], d.tokens[seeded[2]]);
}
