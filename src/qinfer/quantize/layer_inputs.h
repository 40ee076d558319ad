// What the calibrated quantizers learn about a weight's inputs: the running
// sums of x·xᵀ (GPTQ's Hessian, AWQ's loss), of |x| (AWQ's activation scale)
// and the largest |x| per input column (LLM.int8's outliers), collected from
// the engine's own forward passes through a MatmulObserver.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "qinfer/runtime/context.h"

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

  void add(const float* x, int64_t n_tok, ThreadPool& pool);
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
  void on_matmul(const Tensor& w, const float* x, int n_tok) override;
  // The pool the sums are computed on (the context's, idle while it observes).
  void set_pool(ThreadPool* pool) { pool_ = pool; }

 private:
  ThreadPool* pool_ = nullptr;
  std::map<const Tensor*, InputStats*> watched_;
  const Tensor* stop_ = nullptr;
};

// One forward pass of every calibration window through `model` (a fresh
// context of the window's length), feeding `collector`; with all_logits the
// classifier's input is seen for every token. on_window(i) after each window.
void run_calibration_pass(const Model& model, const CalibrationSet& set, int threads, InputCollector& collector,
                          bool all_logits, const std::function<void(int)>& on_window);

}  // namespace qinfer
