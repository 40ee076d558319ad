#include "qinfer/serve/metrics.h"

#include <charconv>
#include <cmath>

#include "qinfer/core/error.h"

namespace qinfer::serve {

namespace {

bool valid_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view s) {
  if (s.empty() || s.starts_with("__")) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="x",b="y"} plus an optional extra label (a histogram's le); "" when empty.
std::string label_text(const Labels& labels, const char* extra_name = nullptr, const std::string& extra_value = {}) {
  if (labels.empty() && !extra_name) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape_label_value(v) + "\"";
  }
  if (extra_name) {
    if (!first) out += ',';
    out += std::string(extra_name) + "=\"" + escape_label_value(extra_value) + "\"";
  }
  return out + "}";
}

}  // namespace

const char* metric_type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) throw Error("exponential_buckets: need start > 0, factor > 1, count >= 1");
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i])) throw Error("histogram bucket bounds must be finite");
    if (i > 0 && !(bounds_[i] > bounds_[i - 1])) throw Error("histogram bucket bounds must increase");
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  // The first bucket whose bound is >= v (Prometheus' `le`); NaN lands in +Inf.
  size_t i = 0;
  while (i < bounds_.size() && !(v <= bounds_[i])) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

MetricsRegistry::Family& MetricsRegistry::add_family(const std::string& name, const std::string& help,
                                                     MetricType type, std::vector<std::string> label_names,
                                                     std::vector<double> bounds) {
  if (!valid_metric_name(name)) throw Error("invalid metric name '" + name + "'");
  if (help.empty()) throw Error("metric " + name + ": help text is empty");
  // Prometheus' naming rules, as promtool checks them: counters end in
  // _total, and only counters do; histograms' suffixes are generated.
  bool total = name.ends_with("_total");
  if (type == MetricType::Counter && !total) throw Error("counter " + name + " must end in _total");
  if (type != MetricType::Counter && total) throw Error("metric " + name + ": only counters end in _total");
  if (type == MetricType::Histogram) {
    if (bounds.empty()) throw Error("histogram " + name + " needs at least one bucket bound");
    Histogram check(bounds);  // finite and increasing, or it throws
  } else if (!bounds.empty()) {
    throw Error("metric " + name + ": only histograms have buckets");
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& k = label_names[i];
    if (!valid_label_name(k)) throw Error("metric " + name + ": invalid label name '" + k + "'");
    if (type == MetricType::Histogram && k == "le") throw Error("metric " + name + ": 'le' is reserved for buckets");
    for (size_t j = 0; j < i; ++j)
      if (label_names[j] == k) throw Error("metric " + name + ": label '" + k + "' given twice");
  }
  auto generated = [](const Family& h, const std::string& n) {
    return h.type == MetricType::Histogram && (n == h.name + "_bucket" || n == h.name + "_sum" || n == h.name + "_count");
  };
  Family probe;
  probe.name = name;
  probe.type = type;
  for (const Family& f : families_) {
    if (f.name == name) throw Error("metric " + name + " declared twice");
    if (generated(f, name) || generated(probe, f.name))
      throw Error("metric " + name + " collides with the series of " + f.name);
  }
  Family& f = families_.emplace_back();
  f.name = name;
  f.help = help;
  f.type = type;
  f.label_names = std::move(label_names);
  f.bounds = std::move(bounds);
  return f;
}

void MetricsRegistry::declare(const std::string& name, const std::string& help, MetricType type,
                              std::vector<std::string> label_names, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  add_family(name, help, type, std::move(label_names), std::move(bounds));
}

void MetricsRegistry::collected(const std::string& name, const std::string& help, MetricType type,
                                std::vector<std::string> label_names, std::function<std::vector<Sample>()> collect) {
  if (type == MetricType::Histogram) throw Error("metric " + name + ": collected families are counters or gauges");
  if (!collect) throw Error("metric " + name + ": no collector");
  std::lock_guard lock(mu_);
  add_family(name, help, type, std::move(label_names), {}).collect = std::move(collect);
}

void MetricsRegistry::check_sample_labels(const Family& f, const Labels& labels) const {
  bool ok = labels.size() == f.label_names.size();
  for (size_t i = 0; ok && i < labels.size(); ++i) ok = labels[i].first == f.label_names[i];
  if (!ok) {
    std::string want;
    for (const std::string& n : f.label_names) want += (want.empty() ? "" : ",") + n;
    throw Error("metric " + f.name + ": expected the labels {" + want + "} in that order");
  }
}

MetricsRegistry::Series& MetricsRegistry::series(const std::string& name, MetricType type, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family* f = nullptr;
  for (Family& c : families_)
    if (c.name == name) f = &c;
  if (!f) throw Error("metric " + name + " was not declared");
  if (f->type != type || f->collect)
    throw Error(std::string("metric ") + name + " is a " + (f->collect ? "collected " : "") + metric_type_name(f->type) +
                ", not a " + metric_type_name(type));
  for (Series& s : f->series)
    if (s.labels == labels) return s;
  check_sample_labels(*f, labels);
  Series& s = f->series.emplace_back();
  s.labels = labels;
  switch (type) {
    case MetricType::Counter: s.counter = std::make_unique<Counter>(); break;
    case MetricType::Gauge: s.gauge = std::make_unique<Gauge>(); break;
    case MetricType::Histogram: s.histogram = std::make_unique<Histogram>(f->bounds); break;
  }
  return s;
}

Counter& MetricsRegistry::counter(const std::string& name, const Labels& labels) {
  return *series(name, MetricType::Counter, labels).counter;
}
Gauge& MetricsRegistry::gauge(const std::string& name, const Labels& labels) {
  return *series(name, MetricType::Gauge, labels).gauge;
}
Histogram& MetricsRegistry::histogram(const std::string& name, const Labels& labels) {
  return *series(name, MetricType::Histogram, labels).histogram;
}

std::string MetricsRegistry::render() const {
  // Take the families and their series under the lock (both only grow, and
  // deque elements never move), then read values and call collectors outside
  // it: a collector may take other locks that are held while metrics update.
  struct View {
    const Family* family;
    std::vector<const Series*> series;
  };
  std::vector<View> views;
  {
    std::lock_guard lock(mu_);
    views.reserve(families_.size());
    for (const Family& f : families_) {
      View& v = views.emplace_back();
      v.family = &f;
      for (const Series& s : f.series) v.series.push_back(&s);
    }
  }
  std::string out;
  for (const View& v : views) {
    const Family& f = *v.family;
    std::vector<Sample> collected;
    if (f.collect) {
      collected = f.collect();
      for (const Sample& s : collected) check_sample_labels(f, s.labels);
    }
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + metric_type_name(f.type) + "\n";
    for (const Sample& s : collected) out += f.name + label_text(s.labels) + " " + format_metric_value(s.value) + "\n";
    for (const Series* s : v.series) {
      switch (f.type) {
        case MetricType::Counter:
          out += f.name + label_text(s->labels) + " " + format_metric_value(s->counter->value()) + "\n";
          break;
        case MetricType::Gauge:
          out += f.name + label_text(s->labels) + " " + format_metric_value(s->gauge->value()) + "\n";
          break;
        case MetricType::Histogram: {
          Histogram::Snapshot snap = s->histogram->snapshot();
          const std::vector<double>& b = s->histogram->bounds();
          for (size_t i = 0; i <= b.size(); ++i) {
            std::string le = i < b.size() ? format_metric_value(b[i]) : "+Inf";
            out += f.name + "_bucket" + label_text(s->labels, "le", le) + " " +
                   format_metric_value(double(snap.cumulative[i])) + "\n";
          }
          out += f.name + "_sum" + label_text(s->labels) + " " + format_metric_value(snap.sum) + "\n";
          out += f.name + "_count" + label_text(s->labels) + " " + format_metric_value(double(snap.cumulative.back())) +
                 "\n";
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace qinfer::serve
