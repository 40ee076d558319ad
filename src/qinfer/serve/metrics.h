// A metrics registry rendered in the Prometheus text exposition format
// (version 0.0.4, what `promtool check metrics` reads). Families are declared
// once with their help and type; each label set is one series, created on
// first use and kept. Updating a series is lock-free and allocates nothing, so
// the per-token path (inter-token latency) can observe a histogram. Values that
// live elsewhere (the engine's queue and KV blocks) come from collectors called
// at render time, so a model evicted from memory leaves no stale series.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qinfer::serve {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { Counter, Gauge, Histogram };
const char* metric_type_name(MetricType t);

class Counter {
 public:
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Buckets are the upper bounds given (strictly increasing, finite) plus +Inf.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (= count)
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

// One sample a collector reports: a series of a collected family.
struct Sample {
  Labels labels;
  double value = 0;
};

class MetricsRegistry {
 public:
  // Declares a family: its help, type, label names and (histograms) bucket
  // bounds. Throws Error for an invalid metric or label name, a counter
  // without the _total suffix (or another type with it), a name declared
  // twice, or names that collide with a histogram's generated series.
  void declare(const std::string& name, const std::string& help, MetricType type,
               std::vector<std::string> label_names = {}, std::vector<double> bounds = {});
  // A family whose samples `collect` returns at each render (counter or gauge).
  void collected(const std::string& name, const std::string& help, MetricType type,
                 std::vector<std::string> label_names, std::function<std::vector<Sample>()> collect);

  // The series of a declared family for `labels` (created on first use, in
  // the declared label order). Throws Error for an undeclared name, another
  // type, or labels other than the declared names. References stay valid for
  // the registry's life.
  Counter& counter(const std::string& name, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const Labels& labels = {});

  // The exposition text: every family in declaration order, HELP and TYPE
  // lines, series in creation order, a trailing newline.
  std::string render() const;

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name, help;
    MetricType type = MetricType::Counter;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::deque<Series> series;
    std::function<std::vector<Sample>()> collect;
  };
  Family& add_family(const std::string& name, const std::string& help, MetricType type,
                     std::vector<std::string> label_names, std::vector<double> bounds);
  Series& series(const std::string& name, MetricType type, const Labels& labels);
  void check_sample_labels(const Family& f, const Labels& labels) const;

  mutable std::mutex mu_;
  std::deque<Family> families_;
};

// Prometheus' number format: shortest round-trip decimal, +Inf, -Inf, NaN.
std::string format_metric_value(double v);
// A label value with \\, \" and \n escaped.
std::string escape_label_value(std::string_view v);
// Exponential bucket bounds: start, start·factor, ... (count of them).
std::vector<double> exponential_buckets(double start, double factor, int count);

}  // namespace qinfer::serve
