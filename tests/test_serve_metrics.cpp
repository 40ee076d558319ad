// The metrics registry and its Prometheus text: exact exposition lines,
// naming rules, escaping, histogram arithmetic, concurrency, and promtool
// (Debian's prometheus package) accepting what `qinfer serve` exports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "qinfer/core/error.h"
#include "qinfer/serve/metrics.h"
#include "qinfer/serve/server_metrics.h"
#include "test_util.h"

namespace qinfer::serve {
namespace {

bool contains_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(ServeMetrics, CounterGaugeLinesAndOrder) {
  MetricsRegistry r;
  r.declare("app_requests_total", "Requests", MetricType::Counter, {"path", "code"});
  r.declare("app_queue", "Queue length", MetricType::Gauge);
  r.counter("app_requests_total", {{"path", "/a"}, {"code", "200"}}).inc();
  r.counter("app_requests_total", {{"path", "/a"}, {"code", "200"}}).inc(2);
  r.counter("app_requests_total", {{"path", "/b"}, {"code", "404"}}).inc();
  r.gauge("app_queue").set(7);
  r.gauge("app_queue").add(-2.5);
  EXPECT_EQ(r.render(),
            "# HELP app_requests_total Requests\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{path=\"/a\",code=\"200\"} 3\n"
            "app_requests_total{path=\"/b\",code=\"404\"} 1\n"
            "# HELP app_queue Queue length\n"
            "# TYPE app_queue gauge\n"
            "app_queue 4.5\n");
}

TEST(ServeMetrics, HistogramIsCumulativeWithLeInfSumCount) {
  MetricsRegistry r;
  r.declare("lat_seconds", "Latency", MetricType::Histogram, {"m"}, {0.1, 0.5, 1});
  Histogram& h = r.histogram("lat_seconds", {{"m", "x"}});
  // On a bound counts in that bucket (le = less or equal); above all bounds in +Inf.
  for (double v : {0.05, 0.1, 0.2, 0.5, 0.7, 3.0}) h.observe(v);
  std::string t = r.render();
  EXPECT_TRUE(contains_line(t, "lat_seconds_bucket{m=\"x\",le=\"0.1\"} 2")) << t;
  EXPECT_TRUE(contains_line(t, "lat_seconds_bucket{m=\"x\",le=\"0.5\"} 4")) << t;
  EXPECT_TRUE(contains_line(t, "lat_seconds_bucket{m=\"x\",le=\"1\"} 5")) << t;
  EXPECT_TRUE(contains_line(t, "lat_seconds_bucket{m=\"x\",le=\"+Inf\"} 6")) << t;
  EXPECT_TRUE(contains_line(t, "lat_seconds_count{m=\"x\"} 6")) << t;
  Histogram::Snapshot s = h.snapshot();
  EXPECT_DOUBLE_EQ(s.sum, 0.05 + 0.1 + 0.2 + 0.5 + 0.7 + 3.0);
  EXPECT_TRUE(contains_line(t, "lat_seconds_sum{m=\"x\"} " + format_metric_value(s.sum))) << t;
}

TEST(ServeMetrics, HistogramAgainstSortedReference) {
  // Random values on and between the bounds: each cumulative count equals
  // the number of values <= the bound, counted directly.
  std::vector<double> bounds = exponential_buckets(0.001, 2, 12);
  Histogram h(bounds);
  std::mt19937 rng(7);
  std::vector<double> values;
  for (int i = 0; i < 2000; ++i) {
    double v = (i % 5 == 0) ? bounds[rng() % bounds.size()] : std::ldexp(double(rng() % 10000), -12);
    values.push_back(v);
    h.observe(v);
  }
  Histogram::Snapshot s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), bounds.size() + 1);
  for (size_t i = 0; i < bounds.size(); ++i) {
    uint64_t want = 0;
    for (double v : values) want += v <= bounds[i];
    EXPECT_EQ(s.cumulative[i], want) << "bucket le=" << bounds[i];
  }
  EXPECT_EQ(s.cumulative.back(), values.size());
}

TEST(ServeMetrics, NumberFormat) {
  EXPECT_EQ(format_metric_value(0), "0");
  EXPECT_EQ(format_metric_value(3), "3");
  EXPECT_EQ(format_metric_value(0.005), "0.005");
  EXPECT_EQ(format_metric_value(-2.5), "-2.5");
  EXPECT_EQ(format_metric_value(1e-9), "1e-09");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  // Shortest text that reads back as the same double.
  for (double v : {0.1 + 0.2, 1.0 / 3, 123456789.125, 5e-324})
    EXPECT_EQ(std::strtod(format_metric_value(v).c_str(), nullptr), v) << format_metric_value(v);
}

TEST(ServeMetrics, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry r;
  r.declare("odd_total", "Help with \\ backslash\nand newline", MetricType::Counter, {"model"});
  r.counter("odd_total", {{"model", "a\"b\\c\nd é"}}).inc();
  std::string t = r.render();
  EXPECT_TRUE(contains_line(t, "# HELP odd_total Help with \\\\ backslash\\nand newline")) << t;
  EXPECT_TRUE(contains_line(t, "odd_total{model=\"a\\\"b\\\\c\\nd é\"} 1")) << t;
}

TEST(ServeMetrics, RefusesWhatPrometheusWouldReject) {
  MetricsRegistry r;
  EXPECT_THROW(r.declare("requests", "x", MetricType::Counter), Error);          // counter without _total
  EXPECT_THROW(r.declare("queue_total", "x", MetricType::Gauge), Error);         // _total on a gauge
  EXPECT_THROW(r.declare("9lives", "x", MetricType::Gauge), Error);              // name starts with a digit
  EXPECT_THROW(r.declare("a-b", "x", MetricType::Gauge), Error);                 // '-' in a name
  EXPECT_THROW(r.declare("ok", "", MetricType::Gauge), Error);                   // no help
  EXPECT_THROW(r.declare("g", "x", MetricType::Gauge, {"__reserved"}), Error);   // reserved label
  EXPECT_THROW(r.declare("g", "x", MetricType::Gauge, {"a", "a"}), Error);       // label twice
  EXPECT_THROW(r.declare("h", "x", MetricType::Histogram, {"le"}, {1}), Error);  // le is the bucket's
  EXPECT_THROW(r.declare("h", "x", MetricType::Histogram, {}, {}), Error);       // no buckets
  EXPECT_THROW(r.declare("h", "x", MetricType::Histogram, {}, {2, 1}), Error);   // not increasing
  EXPECT_THROW(r.declare("g", "x", MetricType::Gauge, {}, {1}), Error);          // buckets on a gauge
  r.declare("lat", "x", MetricType::Histogram, {}, {1});
  EXPECT_THROW(r.declare("lat_count", "x", MetricType::Gauge), Error);  // collides with lat's series
  EXPECT_THROW(r.declare("lat", "x", MetricType::Histogram, {}, {1}), Error);  // declared twice
  r.declare("c_total", "x", MetricType::Counter, {"a"});
  EXPECT_THROW(r.counter("nope_total"), Error);                    // undeclared
  EXPECT_THROW(r.gauge("c_total", {{"a", "1"}}), Error);           // wrong type
  EXPECT_THROW(r.counter("c_total", {{"b", "1"}}), Error);         // wrong label name
  EXPECT_THROW(r.counter("c_total", {}), Error);                   // missing label
  EXPECT_THROW(r.counter("c_total", {{"a", "1"}, {"b", "2"}}), Error);  // extra label
  EXPECT_NO_THROW(r.counter("c_total", {{"a", "1"}}));
}

TEST(ServeMetrics, CollectorsAreCalledAtEachRender) {
  MetricsRegistry r;
  int calls = 0;
  std::vector<Sample> samples = {{{{"model", "a"}}, 1}, {{{"model", "b"}}, 2}};
  r.collected("engine_running", "Running", MetricType::Gauge, {"model"}, [&] {
    ++calls;
    return samples;
  });
  EXPECT_TRUE(contains_line(r.render(), "engine_running{model=\"b\"} 2"));
  samples.pop_back();  // model b was evicted: its series disappears
  std::string t = r.render();
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(contains_line(t, "engine_running{model=\"a\"} 1"));
  EXPECT_EQ(t.find("model=\"b\""), std::string::npos) << t;
  EXPECT_THROW(r.gauge("engine_running", {{"model", "a"}}), Error);  // collected: not settable
  r.collected("bad_labels", "x", MetricType::Gauge, {"model"}, [] { return std::vector<Sample>{{{{"m", "a"}}, 1}}; });
  EXPECT_THROW(r.render(), Error);
}

TEST(ServeMetrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  r.declare("hits_total", "x", MetricType::Counter, {"t"});
  r.declare("lat", "x", MetricType::Histogram, {}, {0.5});
  const int threads = 4, per = 20000;
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i)
    pool.emplace_back([&, i] {
      Histogram& h = r.histogram("lat");
      for (int k = 0; k < per; ++k) {
        r.counter("hits_total", {{"t", std::to_string(k % 3)}}).inc();
        h.observe(i % 2 ? 0.25 : 1.0);
        if (k % 1000 == 0) (void)r.render();  // rendering while others update
      }
    });
  for (auto& t : pool) t.join();
  double total = 0;
  for (int k = 0; k < 3; ++k) total += r.counter("hits_total", {{"t", std::to_string(k)}}).value();
  EXPECT_EQ(total, double(threads * per));
  Histogram::Snapshot s = r.histogram("lat").snapshot();
  EXPECT_EQ(s.cumulative[0], uint64_t(threads / 2 * per));
  EXPECT_EQ(s.cumulative[1], uint64_t(threads * per));
  EXPECT_DOUBLE_EQ(s.sum, threads / 2 * per * 0.25 + threads / 2 * per * 1.0);
}

// What the server exports, filled as a server fills it.
std::string sample_server_metrics() {
  EngineStats st;
  st.running = 3;
  st.waiting = 2;
  st.blocks_total = 64;
  st.blocks_used = 10;
  st.blocks_free = 54;
  st.blocks_cached = 4;
  st.block_bytes = 4096;
  st.bytes_total = 64 * 4096;
  st.preemptions = 1;
  st.cached_tokens = 32;
  ServerMetrics m([st] { return std::vector<EngineSnapshot>{{"tiny-q4_0", st}, {"stories\"260K\"", st}}; },
                  [] { return std::vector<ModelMemory>{{"tiny-q4_0", 1 << 20}}; }, uint64_t(8) << 30);
  m.request("/v1/chat/completions", 200);
  m.request("/v1/chat/completions", 400);
  m.request("/api/chat", 200);
  m.generation("tiny-q4_0", 12, 30, false);
  m.generation("tiny-q4_0", 5, 2, true);
  m.time_to_first_token("tiny-q4_0").observe(0.25);
  for (int i = 0; i < 29; ++i) m.inter_token_latency("tiny-q4_0").observe(0.02 + 0.001 * i);
  m.request_duration("/v1/chat/completions").observe(1.5);
  m.model_loaded("tiny-q4_0", 0.7);
  m.model_evicted("other");
  return m.render();
}

TEST(ServeMetrics, ServerCatalogue) {
  std::string t = sample_server_metrics();
  for (const char* line : {"qinfer_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} 1",
                           "qinfer_prompt_tokens_total{model=\"tiny-q4_0\"} 17",
                           "qinfer_generated_tokens_total{model=\"tiny-q4_0\"} 32",
                           "qinfer_generations_total{model=\"tiny-q4_0\",outcome=\"cancelled\"} 1",
                           "qinfer_queue_length{model=\"tiny-q4_0\"} 2", "qinfer_running_sequences{model=\"tiny-q4_0\"} 3",
                           "qinfer_kv_blocks_used{model=\"tiny-q4_0\"} 10", "qinfer_kv_blocks_free{model=\"tiny-q4_0\"} 54",
                           "qinfer_kv_cache_used_bytes{model=\"tiny-q4_0\"} 40960",
                           "qinfer_time_to_first_token_seconds_count{model=\"tiny-q4_0\"} 1",
                           "qinfer_inter_token_latency_seconds_count{model=\"tiny-q4_0\"} 29",
                           "qinfer_model_load_duration_seconds{model=\"tiny-q4_0\"} 0.7",
                           "qinfer_model_evictions_total{model=\"other\"} 1", "qinfer_models_loaded 1",
                           "qinfer_memory_budget_bytes 8589934592", "qinfer_queue_length{model=\"stories\\\"260K\\\"\"} 2"})
    EXPECT_TRUE(contains_line(t, line)) << "missing: " << line << "\n" << t;
  // A family declared but never used shows its HELP/TYPE and no placeholder sample.
  EXPECT_EQ(t.find("model=\"\""), std::string::npos) << t;
}

// promtool's linter: every rule of the exposition format and of Prometheus'
// naming conventions (units, _total, help) on what the server exports.
TEST(ServeMetrics, PromtoolAcceptsServerMetrics) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool not found (Debian package prometheus; scripts/install-deps.sh installs it)";
  auto dir = test::scratch_dir();
  std::string file = (dir / "metrics.txt").string();
  std::ofstream(file) << sample_server_metrics();
  std::string out_file = (dir / "promtool.out").string();
  int rc = std::system(("promtool check metrics < " + file + " > " + out_file + " 2>&1").c_str());
  std::ifstream in(out_file);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "promtool had findings:\n" << out;
  // It can fail: a counter named without _total is flagged by the linter.
  std::ofstream(file) << "# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n";
  rc = std::system(("promtool check metrics < " + file + " > " + out_file + " 2>&1").c_str());
  EXPECT_NE(rc, 0) << "promtool accepted a counter without _total";
}

}  // namespace
}  // namespace qinfer::serve
