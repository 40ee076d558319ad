// Serving-benchmark metrics against hand-computed timelines (vLLM's
// definitions), the load generator's arrival and concurrency rules, prompt
// sets, and the in-process engine target.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <thread>

#include "qinfer/bench/engine_target.h"
#include "qinfer/bench/load_gen.h"
#include "qinfer/bench/prompts.h"
#include "qinfer/bench/serve_bench.h"
#include "qinfer/bench/serve_metrics.h"
#include "qinfer/core/error.h"
#include "qinfer/model/model.h"
#include "test_util.h"

namespace qinfer::bench {
namespace {

RequestTimeline timeline(double send, std::vector<double> chunks, int prompt, int output) {
  RequestTimeline r;
  r.send_s = send;
  r.chunk_s = std::move(chunks);
  r.prompt_tokens = prompt;
  r.output_tokens = output;
  r.ok = true;
  return r;
}

TEST(BenchMetrics, OneRequestByHand) {
  // Sent at 0; chunks at 100, 150, 250, 300 ms; 4 tokens.
  const RequestMetrics m = request_metrics(timeline(0.0, {0.100, 0.150, 0.250, 0.300}, 10, 4));
  EXPECT_DOUBLE_EQ(m.ttft_s, 0.100);
  EXPECT_DOUBLE_EQ(m.e2el_s, 0.300);
  ASSERT_EQ(m.itl_s.size(), 3u);
  EXPECT_NEAR(m.itl_s[0], 0.050, 1e-12);
  EXPECT_NEAR(m.itl_s[1], 0.100, 1e-12);
  EXPECT_NEAR(m.itl_s[2], 0.050, 1e-12);
  ASSERT_TRUE(m.has_tpot);
  EXPECT_NEAR(m.tpot_s, 0.200 / 3, 1e-12);  // (E2EL - TTFT) / (tokens - 1)
}

TEST(BenchMetrics, TpotUsesTokenCountNotChunks) {
  // Two chunks carrying five tokens (usage.completion_tokens = 5): TPOT divides by 4.
  const RequestMetrics m = request_metrics(timeline(1.0, {1.2, 1.6}, 3, 5));
  EXPECT_NEAR(m.tpot_s, 0.4 / 4, 1e-12);
  ASSERT_EQ(m.itl_s.size(), 1u);
  EXPECT_NEAR(m.itl_s[0], 0.4, 1e-12);
}

TEST(BenchMetrics, SingleTokenHasNoTpot) {
  const RequestMetrics m = request_metrics(timeline(0.0, {0.05}, 3, 1));
  EXPECT_FALSE(m.has_tpot);
  EXPECT_TRUE(m.itl_s.empty());
  EXPECT_DOUBLE_EQ(m.ttft_s, m.e2el_s);
  const ServeSummary s = summarize({timeline(0.0, {0.05}, 3, 1)}, 1.0);
  EXPECT_EQ(s.tpot_ms.count, 0u);
  EXPECT_EQ(s.tpot_ms.mean, 0.0);  // vLLM: np.mean(tpots or 0)
  EXPECT_EQ(s.itl_ms.mean, 0.0);
}

TEST(BenchMetrics, FailedRequestHasNoMetrics) {
  RequestTimeline r;
  r.error = "HTTP 500";
  EXPECT_THROW(request_metrics(r), Error);
  EXPECT_THROW(request_metrics(timeline(0, {}, 1, 0)), Error);
}

TEST(BenchMetrics, DescribeIsNumpysStatistics) {
  // The percentile itself is core/stats (test_core.cpp).
  const std::vector<double> v{4, 1, 3, 2};
  const Distribution d = describe(v, 1000);
  EXPECT_NEAR(d.mean, 2500, 1e-9);
  EXPECT_NEAR(d.std, 1000 * std::sqrt(1.25), 1e-9);  // population std (np.std)
  EXPECT_NEAR(d.median, 2500, 1e-9);
}

TEST(BenchMetrics, SummaryOfThreeRequestsByHand) {
  // A: sent 0, chunks 0.1 0.15 0.25 0.3, 10 prompt + 4 output tokens.
  // B: sent 1.0, chunks 1.2 1.5 1.6, 20 prompt + 3 output tokens.
  // C: failed (its tokens are not counted).
  RequestTimeline c;
  c.prompt_tokens = 30;
  c.error = "stream stalled";
  const ServeSummary s =
      summarize({timeline(0.0, {0.1, 0.15, 0.25, 0.3}, 10, 4), timeline(1.0, {1.2, 1.5, 1.6}, 20, 3), c}, 2.0);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.failed, 1);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0], "stream stalled");
  EXPECT_EQ(s.total_input_tokens, 30);
  EXPECT_EQ(s.total_output_tokens, 7);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(s.output_throughput, 3.5);
  EXPECT_DOUBLE_EQ(s.total_token_throughput, 18.5);
  // TTFT 100, 200 ms.
  EXPECT_NEAR(s.ttft_ms.mean, 150, 1e-9);
  EXPECT_NEAR(s.ttft_ms.median, 150, 1e-9);
  EXPECT_NEAR(s.ttft_ms.p99, 199, 1e-9);
  // TPOT 200/3 and 400/2 ms: averaged per request.
  EXPECT_NEAR(s.tpot_ms.mean, (200.0 / 3 + 200.0) / 2, 1e-9);
  // ITL pooled over requests: 50 100 50 | 300 100 -> sorted 50 50 100 100 300.
  EXPECT_EQ(s.itl_ms.count, 5u);
  EXPECT_NEAR(s.itl_ms.mean, 120, 1e-9);
  EXPECT_NEAR(s.itl_ms.median, 100, 1e-9);
  EXPECT_NEAR(s.itl_ms.p90, 220, 1e-9);
  EXPECT_NEAR(s.itl_ms.p99, 292, 1e-9);
  // E2EL 300, 600 ms.
  EXPECT_NEAR(s.e2el_ms.mean, 450, 1e-9);
  // Mean ITL differs from mean TPOT: TPOT averages per request first.
  EXPECT_GT(std::abs(s.itl_ms.mean - s.tpot_ms.mean), 1.0);

  const nlohmann::json j = s.to_json();
  EXPECT_EQ(j["completed"], 2);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_NEAR(j["p90_itl_ms"].get<double>(), 220, 1e-9);  // vLLM's key names
  EXPECT_NEAR(j["mean_ttft_ms"].get<double>(), 150, 1e-9);
}

TEST(BenchLoad, ArrivalsArePoissonAndSeeded) {
  const auto inf = arrival_offsets(5, std::numeric_limits<double>::infinity(), 1);
  for (double t : inf) EXPECT_EQ(t, 0.0);
  const int n = 20000;
  const auto a = arrival_offsets(n, 50.0, 7);
  EXPECT_EQ(a, arrival_offsets(n, 50.0, 7));
  EXPECT_NE(a, arrival_offsets(n, 50.0, 8));
  EXPECT_EQ(a[0], 0.0);
  double sum = 0, sum2 = 0;
  for (int i = 1; i < n; ++i) {
    const double g = a[size_t(i)] - a[size_t(i) - 1];
    ASSERT_GE(g, 0.0);
    sum += g;
    sum2 += g * g;
  }
  const double mean = sum / (n - 1), var = sum2 / (n - 1) - mean * mean;
  EXPECT_NEAR(mean, 1.0 / 50, 0.03 / 50);             // exponential: mean 1/rate
  EXPECT_NEAR(std::sqrt(var), 1.0 / 50, 0.05 / 50);  // and std-dev 1/rate
  EXPECT_THROW(arrival_offsets(3, 0.0, 1), InputError);
}

// A target that sleeps a fixed time per request and records how many run at once.
class SleepTarget : public BenchTarget {
 public:
  explicit SleepTarget(double seconds) : seconds_(seconds) {}
  void prepare(int n) override { workers = n; }
  RequestTimeline run(const BenchPrompt& p, int) override {
    RequestTimeline r;
    r.send_s = now_s();
    const int now = ++in_flight;
    for (int m = max_in_flight.load(); now > m && !max_in_flight.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds_));
    r.chunk_s = {now_s()};
    --in_flight;
    r.prompt_tokens = p.input_tokens;
    r.output_tokens = 1;
    r.ok = true;
    return r;
  }
  std::string describe() const override { return "sleep"; }
  std::atomic<int> in_flight{0}, max_in_flight{0};
  int workers = 0;

 private:
  double seconds_;
};

TEST(BenchLoad, ConcurrencyCapsRequestsInFlight) {
  SleepTarget t(0.02);
  LoadOptions o;
  o.num_requests = 12;
  o.concurrency = 3;
  const LoadRun run = run_load(t, synthetic_text_prompts(4, 5, 1, 0), o);
  EXPECT_EQ(t.workers, 3);
  EXPECT_EQ(t.max_in_flight.load(), 3);
  ASSERT_EQ(run.requests.size(), 12u);
  for (const auto& r : run.requests) EXPECT_TRUE(r.ok);
  EXPECT_GE(run.duration_s, 4 * 0.02 * 0.95);  // 12 requests / 3 at a time, 20 ms each
  EXPECT_LT(run.duration_s, 1.0);
}

TEST(BenchLoad, RequestRateDelaysSends) {
  SleepTarget t(0.0);
  LoadOptions o;
  o.num_requests = 6;
  o.request_rate = 40;
  o.seed = 3;
  const double t0 = now_s();
  const LoadRun run = run_load(t, synthetic_text_prompts(1, 5, 1, 0), o);
  const auto due = arrival_offsets(6, 40, 3);
  for (size_t i = 0; i < 6; ++i) EXPECT_GE(run.requests[i].send_s - t0, due[i] - 1e-3) << "request " << i;
  EXPECT_GE(run.duration_s, due.back() - 1e-3);
}

TEST(BenchPrompts, SyntheticLengthsAndSeed) {
  const auto p = synthetic_text_prompts(3, 16, 8, 42);
  ASSERT_EQ(p.size(), 3u);
  for (const auto& x : p) {
    EXPECT_EQ(std::count(x.text.begin(), x.text.end(), ' '), 15);
    EXPECT_EQ(x.input_tokens, 16);
    EXPECT_EQ(x.max_tokens, 8);
  }
  EXPECT_EQ(p[0].text, synthetic_text_prompts(1, 16, 8, 42)[0].text);
  EXPECT_NE(p[0].text, p[1].text);
  const auto t = synthetic_token_prompts(2, 10, 4, 50, 1, {3, 0, 2, 1}, 5);
  for (const auto& x : t) {
    ASSERT_EQ(x.tokens.size(), 10u);
    EXPECT_EQ(x.tokens[0], 1);
    for (size_t i = 1; i < x.tokens.size(); ++i) {
      EXPECT_GE(x.tokens[i], 4);
      EXPECT_LT(x.tokens[i], 50);
    }
  }
}

TEST(BenchPrompts, DatasetLinesAndErrors) {
  const auto dir = test::scratch_dir();
  const std::string good = (dir / "good.jsonl").string();
  std::ofstream(good) << "{\"prompt\": \"Once upon a time\"}\n\n"
                      << "{\"messages\": [{\"role\": \"user\", \"content\": \"hi there\"}], \"max_tokens\": 7}\n";
  const auto p = load_prompt_dataset(good, 32);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].text, "Once upon a time");
  EXPECT_EQ(p[0].max_tokens, 32);
  EXPECT_EQ(p[0].input_tokens, 4);
  ASSERT_EQ(p[1].messages.size(), 1u);
  EXPECT_EQ(p[1].messages[0].content, "hi there");
  EXPECT_EQ(p[1].max_tokens, 7);

  const auto expect_error = [&](const std::string& text, const std::string& needle) {
    const std::string f = (dir / "bad.jsonl").string();
    std::ofstream(f) << text;
    try {
      load_prompt_dataset(f, 8);
      ADD_FAILURE() << "no error for " << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("{\"prompt\": \"a\"}\nnot json\n", "bad.jsonl:2: not a JSON object");
  expect_error("{\"text\": \"a\"}\n", "needs a \"prompt\" string or a \"messages\" array");
  expect_error("{\"messages\": [{\"role\": \"user\"}]}\n", "\"role\" and \"content\"");
  expect_error("{\"prompt\": \"a\", \"max_tokens\": -1}\n", "max_tokens");
  expect_error("\n", "no prompts");
  EXPECT_THROW(load_prompt_dataset((dir / "missing.jsonl").string(), 8), InputError);
}

TEST(BenchServe, InProcessEngineProducesExactlyMaxTokens) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  auto model = load_model(test::data_path("models/stories260K/stories260K.gguf"));
  EngineTargetOptions eo;
  eo.engine.n_threads = 1;
  eo.engine.max_seqs = 1;
  eo.engine.n_ctx = 64;
  EngineTarget target(*model, eo);
  EXPECT_GT(target.engine().stats().bytes_total, 0u);
  const auto prompts = synthetic_token_prompts(6, 12, 9, model->config.n_vocab, model->tokenizer->bos(), {}, 1);
  ServeConfig cfg;
  cfg.concurrency = {1, 2};
  cfg.num_requests = 3;
  cfg.warmup = 1;
  const auto results = run_serve_bench(target, prompts, cfg);
  ASSERT_EQ(results.size(), 2u);
  for (const ServeResult& r : results) {
    EXPECT_EQ(r.summary.completed, 3);
    EXPECT_EQ(r.summary.failed, 0);
    EXPECT_EQ(r.summary.total_output_tokens, 27);  // ignore_eos: exactly max_tokens each
    EXPECT_EQ(r.summary.total_input_tokens, 36);
    EXPECT_EQ(r.summary.itl_ms.count, 3u * 8u);
    EXPECT_GT(r.summary.ttft_ms.mean, 0);
  }
  // A prompt longer than the context fails that request with a message, not the run.
  BenchPrompt too_long = prompts[0];
  too_long.tokens.assign(100, prompts[0].tokens[1]);
  const RequestTimeline r = target.run(too_long, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("does not fit the context"), std::string::npos) << r.error;

  ServeResult sr = results[0];
  sr.model_bytes = int64_t(model->weight_bytes());
  const nlohmann::json j = sr.to_json();
  EXPECT_EQ(j["concurrency"], 1);
  EXPECT_EQ(j["request_rate"], "inf");
  EXPECT_EQ(j["completed"], 3);
  const std::string csv = to_csv(results);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  const std::string header = ServeResult::csv_header(), row = sr.csv_row();
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), std::count(row.begin(), row.end(), ','));
}

}  // namespace
}  // namespace qinfer::bench
