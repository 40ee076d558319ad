#include "qinfer/quantize/layer_inputs.h"

#include <algorithm>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/quantize/calibration.h"
#include "qinfer/runtime/context.h"

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

void InputStats::add_cross(const float* x_float, const float* x, int64_t n_tok, ThreadPool& pool) {
  if (cross.empty()) cross.assign(size_t(cols * cols), 0.0);
  pool.parallel_for(cols, [&](int64_t i0, int64_t i1) {
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * cols;
      const float* ft = x_float + t * cols;
      for (int64_t i = i0; i < i1; ++i) {
        const double d = double(ft[i]) - double(xt[i]);
        if (d == 0.0) continue;
        double* ci = &cross[size_t(i * cols)];
        for (int64_t j = 0; j < cols; ++j) ci[j] += d * double(xt[j]);
      }
    }
  });
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
    const auto p = paired_.find(&w);
    if (p != paired_.end()) {
      if (p->second->size() != size_t(n_tok * s.cols)) throw Error("calibration: float input of " + w.name + " missing");
      s.add_cross(p->second->data(), x, n_tok, *pool_);
    }
  }
  const auto c = captured_.find(&w);
  if (c != captured_.end()) c->second->assign(x, x + size_t(n_tok) * size_t(w.ne[0]));
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

struct LayerStates::Relay : MatmulObserver {
  InputCollector* to = nullptr;
  void on_matmul(const Tensor& w, const float* x, int n_tok) override {
    if (to) to->on_matmul(w, x, n_tok);
  }
};

// As run_calibration_pass's Context of the window's length: one ubatch per
// window, F16 KV cache in blocks of 16, the same threads.
LayerStates::LayerStates(const Model& model, const CalibrationSet& set, int threads)
    : model_(model), set_(set), relay_(std::make_unique<Relay>()) {
  if (set.windows.empty()) return;
  const ModelConfig& c = model.config;
  window_ = int64_t(set.windows.front().size());
  ContextParams defaults;
  ForwardParams fp;
  fp.max_tokens = int(window_);
  fp.max_seqs = 1;
  fp.max_logits = int(window_);
  fp.n_ctx = int(window_);
  fp.n_threads = threads;
  fp.observer = relay_.get();
  forward_ = std::make_unique<Forward>(model, fp);
  const int n_blocks = int((window_ + defaults.kv_block - 1) / defaults.kv_block);
  cache_ = std::make_unique<KvCache>(c, defaults.cache_type, defaults.kv_block, n_blocks);
  blocks_.resize(size_t(n_blocks));
  for (size_t i = 0; i < blocks_.size(); ++i) blocks_[i] = int32_t(i);
  // Layer 0's input: the token embeddings, as the forward pass looks them up.
  const size_t per_window = size_t(window_ * c.n_embd);
  states_.resize(set.windows.size() * per_window);
  scratch_.resize(per_window);
  const TypeInfo& emb = type_info(model.tok_embd->type);
  for (size_t i = 0; i < set.windows.size(); ++i) {
    if (int64_t(set.windows[i].size()) != window_) throw Error("calibration windows differ in length");
    for (int64_t t = 0; t < window_; ++t)
      emb.to_float(model.tok_embd->row(set.windows[i][size_t(t)]), &states_[i * per_window + size_t(t * c.n_embd)],
                   c.n_embd);
  }
}

LayerStates::~LayerStates() = default;

void LayerStates::run_window(size_t i, float* hidden, bool all_logits) {
  const int n_layer = model_.config.n_layer;
  UbatchSeq seq;
  seq.n = int(window_);
  seq.pos0 = 0;
  seq.blocks = blocks_.data();
  seq.n_logits = layer_ == n_layer && all_logits ? seq.n : layer_ == n_layer ? 1 : 0;
  Ubatch ub;
  ub.tokens = set_.windows[i].data();
  ub.seqs = &seq;
  ub.n_seqs = 1;
  if (seq.n_logits > 0 && logits_.empty()) logits_.resize(size_t(window_) * size_t(model_.config.n_vocab));
  forward_->run_layers(ub, *cache_, layer_, std::min(layer_ + 1, n_layer), hidden, logits_.data());
}

void LayerStates::observe_window(size_t i, InputCollector& collector, bool all_logits) {
  if (!forward_) return;
  relay_->to = &collector;
  collector.set_pool(&forward_->pool());
  // A copy: the pass overwrites its input with the layer's output.
  const size_t per_window = scratch_.size();
  std::copy(states_.begin() + ptrdiff_t(i * per_window), states_.begin() + ptrdiff_t((i + 1) * per_window),
            scratch_.begin());
  try {
    run_window(i, scratch_.data(), all_logits);
  } catch (const StopForward&) {
  }
  collector.set_pool(nullptr);
  relay_->to = nullptr;
}

void LayerStates::observe(InputCollector& collector, bool all_logits, const std::function<void(int)>& on_window) {
  for (size_t i = 0; i < set_.windows.size(); ++i) {
    observe_window(i, collector, all_logits);
    if (on_window) on_window(int(i));
  }
}

void LayerStates::advance_window(size_t i) {
  if (layer_ >= model_.config.n_layer) throw Error("calibration: no layer after the last");
  if (forward_) run_window(i, &states_[i * scratch_.size()], false);
}

void LayerStates::next_layer() { ++layer_; }

size_t LayerStates::n_windows() const { return set_.windows.size(); }

void LayerStates::advance(const std::function<void(int)>& on_window) {
  for (size_t i = 0; i < set_.windows.size(); ++i) {
    advance_window(i);
    if (on_window) on_window(int(i));
  }
  next_layer();
}

}  // namespace qinfer
