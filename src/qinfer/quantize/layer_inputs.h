// What the calibrated quantizers learn about a weight's inputs: the running
// sums of x·xᵀ (GPTQ's Hessian, AWQ's loss), of |x| (AWQ's activation scale)
// and the largest |x| per input column (LLM.int8's outliers), collected from
// the engine's own forward passes through a MatmulObserver.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "qinfer/runtime/forward.h"
#include "qinfer/runtime/kv_cache.h"

namespace qinfer {

class ThreadPool;
struct CalibrationSet;

struct InputStats {
  explicit InputStats(int64_t cols = 0);
  int64_t cols = 0;
  int64_t tokens = 0;
  std::vector<double> xxt;      // Σ x·xᵀ, lower triangle (cols × cols)
  std::vector<double> abs_sum;  // Σ |x| per column
  std::vector<float> abs_max;   // max |x| per column
  // Σ (x_float − x)·xᵀ (cols × cols, full), where the float model's input to
  // the same weight on the same tokens is paired with x (InputCollector::pair).
  std::vector<double> cross;

  void add(const float* x, int64_t n_tok, ThreadPool& pool);
  void add_cross(const float* x_float, const float* x, int64_t n_tok, ThreadPool& pool);
  // Σ x·xᵀ as a full symmetric matrix.
  std::vector<double> hessian() const;
  std::vector<double> mean_abs() const;
};

// Feeds watched weights' inputs into their InputStats; after the input of the
// `stop_after` weight the forward pass is abandoned (what follows is not needed).
class InputCollector : public MatmulObserver {
 public:
  void watch(const Tensor* weight, InputStats* stats) { watched_[weight] = stats; }
  void stop_after(const Tensor* weight) { stop_ = weight; }
  // The input of `weight` copied into `into` (the float model's, to pair).
  void capture(const Tensor* weight, std::vector<float>* into) { captured_[weight] = into; }
  // A watched weight's input also goes into its stats' cross sums with `x_float`.
  void pair(const Tensor* weight, const std::vector<float>* x_float) { paired_[weight] = x_float; }
  void on_matmul(const Tensor& w, const float* x, int n_tok) override;
  // The pool the sums are computed on (the context's, idle while it observes).
  void set_pool(ThreadPool* pool) { pool_ = pool; }

 private:
  ThreadPool* pool_ = nullptr;
  std::map<const Tensor*, InputStats*> watched_;
  std::map<const Tensor*, std::vector<float>*> captured_;
  std::map<const Tensor*, const std::vector<float>*> paired_;
  const Tensor* stop_ = nullptr;
};

// One forward pass of every calibration window through `model` (a fresh
// context of the window's length), feeding `collector`; with all_logits the
// classifier's input is seen for every token. on_window(i) after each window.
void run_calibration_pass(const Model& model, const CalibrationSet& set, int threads, InputCollector& collector,
                          bool all_logits, const std::function<void(int)>& on_window);

// The hidden state entering one layer, kept for every calibration window, so
// that calibrating layer l runs layer l only (the layers before it computed
// once each: linear in the layers, where re-running the windows from the
// embeddings for every stage is quadratic). Holds windows × window length ×
// n_embd floats (one layer's inputs, updated in place) plus one window's copy.
// The results are those of run_calibration_pass through layers 0..l, bit for
// bit: the same forward pass, context size, KV cache and threads.
class LayerStates {
 public:
  LayerStates(const Model& model, const CalibrationSet& set, int threads);
  ~LayerStates();

  int layer() const { return layer_; }  // the layer whose input is held (n_layer: the final state)
  // Every window through the held layer (or, at n_layer, the final norm and
  // the classifier), feeding `collector`, which may stop each window early.
  void observe(InputCollector& collector, bool all_logits, const std::function<void(int)>& on_window);
  // Every window through the held layer with the model's current weights: the
  // next layer's input replaces it.
  void advance(const std::function<void(int)>& on_window);
  // The same one window at a time (two models' states in step): advance_window
  // for every window, then next_layer.
  void observe_window(size_t i, InputCollector& collector, bool all_logits);
  void advance_window(size_t i);
  void next_layer();
  size_t n_windows() const;
  size_t bytes() const { return states_.capacity() * sizeof(float); }

 private:
  struct Relay;  // forwards the forward pass's matmul inputs to the current collector
  void run_window(size_t i, float* hidden, bool all_logits);

  const Model& model_;
  const CalibrationSet& set_;
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<Forward> forward_;
  std::unique_ptr<KvCache> cache_;
  std::vector<int32_t> blocks_;
  int layer_ = 0;
  int64_t window_ = 0;         // tokens per window
  std::vector<float> states_;  // [window][token][n_embd]
  std::vector<float> scratch_, logits_;
};

}  // namespace qinfer
