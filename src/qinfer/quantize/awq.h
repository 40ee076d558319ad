// AWQ (Lin et al., arXiv 2306.00978): per-input-channel scales s = s_x^α
// (s_x = mean |x| of the channel over the calibration tokens), α searched on
// a grid to minimise ‖Q(W·diag(s))·diag(s)⁻¹·X − W·X‖², then folded into the
// operation that produces the input (an RMSNorm weight or the previous linear's
// rows) so inference needs no extra op; plus the clipping search. The losses
// are computed from Σ x·xᵀ (tr(Δ·H·Δᵀ)), i.e. over every calibration token.
// These functions work on float matrices; calibrated.cpp applies them to a model.
#pragma once
#include <cstdint>
#include <vector>

#include "qinfer/quant/type_id.h"

namespace qinfer {

class ThreadPool;

class GroupRounder;

// A weight reading the searched input: rows × cols floats (row = output
// channel) and the type it will be stored in, or (rounder not null) the grid
// of a Hugging Face export it is rounded onto (round to nearest per group).
struct AwqWeight {
  float* w;
  int64_t rows;
  TypeId type;
  GroupRounder* rounder = nullptr;
};

// One row rounded as `weight` will be and back to floats: the type's
// quantizer (importance-weighted when imp is not null) or the rounder's grid
// (its codes are set too, so the last call for a row is what it keeps).
void awq_round_row(const AwqWeight& weight, int64_t row, const float* w, float* out, int64_t cols, const float* imp);

struct AwqScales {
  std::vector<float> scale;  // one per input column
  double alpha = 0;
  double loss = 0;           // at the chosen α
  double loss_plain = 0;     // at α = 0 (no scaling: round-to-nearest)
};

// The α grid is k / n_grid for k = 0 .. n_grid − 1, as the paper and AutoAWQ
// (n_grid 20). With duo (AutoAWQ's default, duo_scaling) the candidate is
// s = s_x^α / s_w^(1−α), s_w = the mean over rows of |w| relative to its
// block's largest; without it the paper's s = s_x^α. tie: when not null,
// tie[j] is the scale group of column j (GQA: the attention output columns of
// the heads sharing one V head share that head's scale); groups average their
// columns' s_x and s_w.
AwqScales awq_search_scales(const std::vector<AwqWeight>& weights, int64_t cols, const std::vector<double>& xxt,
                            const std::vector<double>& mean_abs, int n_grid, bool duo, bool importance,
                            ThreadPool& pool, const std::vector<int64_t>* tie = nullptr);

// ‖(Q(W) − W)·X‖² summed over rows, from Σ x·xᵀ; Q is the type's quantizer
// (with importance: weighted by diag(Σ x·xᵀ), as the final rounding is).
double awq_quantization_loss(const AwqWeight& weight, int64_t cols, const std::vector<double>& xxt, bool importance,
                             ThreadPool& pool);

// W[:, j] *= s[j] (the reading side).
void scale_columns(float* w, int64_t rows, int64_t cols, const float* s);
// Row i (or element i) divided by s[i] (the producing side: norm weight, previous linear's rows, bias).
void divide_rows(float* w, int64_t rows, int64_t cols, const float* s);
// The input statistics after the input was divided by s: xxt[i][j] /= s_i·s_j, mean_abs[i] /= s_i.
void rescale_input_stats(std::vector<double>& xxt, std::vector<double>& mean_abs, const float* s);

// AWQ's clipping search: per row and block of the type, the weights are
// clipped to ±r·max|w| for r = 1, 1 − max_shrink/n_grid, …, 1 − max_shrink
// (AutoAWQ: 0.5 in 20 steps), choosing the r whose quantized block gives the
// smallest output error dᵀ·H_bb·d (blocks: the rounder's groups when it has
// one). Rows of types without a quantizer or blocks of 1 (float types) are
// left alone. Returns the loss reduction in percent.
double awq_clip(const AwqWeight& weight, int64_t cols, const std::vector<double>& xxt, int n_grid, double max_shrink,
                bool importance, ThreadPool& pool);

}  // namespace qinfer
