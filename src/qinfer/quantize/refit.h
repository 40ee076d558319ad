// Least-squares refit of a quantized weight's block parameters once its codes
// are chosen ("refit"): GPTQ (and AWQ's rounding) fix each block's scale
// (and min) before its codes, from weights that are not yet final; with the
// codes fixed, every element's value is linear in the block's fp16
// parameters, so the parameters that minimise the layer's output error on the
// calibration activations, (w − ŵ)ᵀ·H·(w − ŵ) over a whole row, solve a
// small linear system (one unknown per block parameter of the row). The new
// parameters are written through the type's own setter (fp16 rounding), so
// the blocks stay valid blocks of the type; a row whose error does not go
// down keeps its old parameters.
//
// keep_energy: the fit is then scaled so that the row's output energy on the
// calibration activations, ŵᵀ·H·ŵ, equals the float row's wᵀ·H·w. A
// least-squares fit is a projection and so shrinks every output channel (by
// the error's energy); on stories260K that shrinkage cost perplexity although
// it lowered the layer error and the KL-divergence, and matching the energy
// recovered it (README). The rescaled row may have a slightly larger layer
// error than the plain fit; it is kept unless it is not finite.
#pragma once
#include <cstdint>
#include <vector>

#include "qinfer/quant/type_id.h"

namespace qinfer {

class ThreadPool;

struct RefitStats {
  double loss_before = 0;   // Σ over rows of (w − ŵ)ᵀ·H·(w − ŵ) with the parameters given
  double loss_after = 0;    // the same with the refitted ones
  int64_t rows_kept = 0;    // rows left as they were (no gain, or a singular system)
};

// q: rows × row_size(type, cols) bytes, blocks of a type with a code grid.
// w: the float weights they stand for (rows × cols). h: cols × cols, Σ x·xᵀ;
// damp: added to h's diagonal as a fraction of its mean (GPTQ's damping, so
// the refit minimises the same objective GPTQ did). Throws Error for a type
// without a code grid or parameters.
RefitStats refit_block_params(TypeId type, uint8_t* q, int64_t rows, int64_t cols, const float* w,
                              const std::vector<double>& h, double damp, bool keep_energy, ThreadPool& pool);

// (w − ŵ)ᵀ·H·(w − ŵ) summed over rows, ŵ = the dequantized q (loss reports, tests).
double quantized_output_loss(TypeId type, const uint8_t* q, int64_t rows, int64_t cols, const float* w,
                             const std::vector<double>& h, ThreadPool& pool);

}  // namespace qinfer
