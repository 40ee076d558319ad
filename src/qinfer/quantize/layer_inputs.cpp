#include "qinfer/quantize/layer_inputs.h"

#include <algorithm>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/quantize/calibration.h"

namespace qinfer {

namespace {

// Thrown by the collector once it has what the pass needs; caught by the pass.
struct StopForward {};

}  // namespace

InputStats::InputStats(int64_t c)
    : cols(c), xxt(size_t(c * c), 0.0), abs_sum(size_t(c), 0.0), abs_max(size_t(c), 0.0f) {}

void InputStats::add(const float* x, int64_t n_tok, ThreadPool& pool) {
  // Rows of the lower triangle split so that every thread gets about the same
  // number of products (row i has i + 1).
  pool.run([&](int ith, int nth) {
    const auto bound = [&](int k) { return int64_t(double(cols) * std::sqrt(double(k) / double(nth))); };
    const int64_t i0 = ith == 0 ? 0 : bound(ith), i1 = ith == nth - 1 ? cols : bound(ith + 1);
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * cols;
      for (int64_t i = i0; i < i1; ++i) {
        const double xi = xt[i];
        if (xi == 0.0) continue;
        double* hi = &xxt[size_t(i * cols)];
        for (int64_t j = 0; j <= i; ++j) hi[j] += xi * double(xt[j]);
      }
    }
  });
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t j = 0; j < cols; ++j) {
      const float a = std::fabs(x[t * cols + j]);
      abs_sum[size_t(j)] += a;
      abs_max[size_t(j)] = std::max(abs_max[size_t(j)], a);
    }
  tokens += n_tok;
}

std::vector<double> InputStats::hessian() const {
  std::vector<double> h(xxt);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < i; ++j) h[size_t(j * cols + i)] = h[size_t(i * cols + j)];
  return h;
}

std::vector<double> InputStats::mean_abs() const {
  std::vector<double> m(abs_sum);
  for (double& v : m) v /= double(std::max<int64_t>(tokens, 1));
  return m;
}

void InputCollector::on_matmul(const Tensor& w, const float* x, int n_tok) {
  const auto it = watched_.find(&w);
  if (it != watched_.end()) {
    InputStats& s = *it->second;
    if (s.cols != w.ne[0]) throw Error("calibration: input width of " + w.name + " changed");
    s.add(x, n_tok, *pool_);
  }
  if (&w == stop_) throw StopForward{};
}

void run_calibration_pass(const Model& model, const CalibrationSet& set, int threads, InputCollector& collector,
                          bool all_logits, const std::function<void(int)>& on_window) {
  if (set.windows.empty()) return;
  ContextParams cp;
  cp.n_ctx = int(set.windows.front().size());
  cp.n_batch = cp.n_ctx;
  cp.n_threads = threads;
  cp.observer = &collector;
  Context ctx(model, cp);
  collector.set_pool(&ctx.pool());
  for (size_t i = 0; i < set.windows.size(); ++i) {
    ctx.reset();
    try {
      ctx.eval(set.windows[i].data(), int(set.windows[i].size()), all_logits);
    } catch (const StopForward&) {
    }
    if (on_window) on_window(int(i));
  }
  collector.set_pool(nullptr);
}

}  // namespace qinfer
