// GPTQ toward the float model's output (GPTAQ, arXiv 2504.02692). Plain GPTQ
// fits Ŵ to W on the inputs X the partly quantized model gives the layer,
// ‖W·X − Ŵ·X‖; the float target is the float model's output on the same
// tokens, ‖W·X_float − Ŵ·X‖, so the layer also makes up for the error of what
// precedes it (the earlier layers, the round-to-nearest token embedding).
// Splitting at the least-squares solution W' of ‖W·X_float − W'·X‖,
//   ‖W·X_float − Ŵ·X‖² = ‖W·X_float − W'·X‖² + ‖(W' − Ŵ)·X‖²
// (the residual is orthogonal to X), so plain GPTQ (and the refit) run on W'
// with the same H = Σ x·xᵀ minimise the float-target loss.
#pragma once
#include <cstdint>
#include <vector>

namespace qinfer {

class ThreadPool;

// W (rows × cols, row-major) becomes W' = W + W·Δ·(H + λI)⁻¹, Δ = Σ (x_float − x)·xᵀ
// (cross), λ = damp × H's mean diagonal as in GPTQ; written so that Δ = 0
// leaves W as it is. With h_float (Σ x_float·x_floatᵀ; empty: none) each row is
// then scaled so that its output energy on X equals the float row's on X_float,
// w'ᵀ·H·w' = wᵀ·H_float·w: errors in the inputs shrink a least-squares fit
// (regression dilution), and on stories260K the shrinkage cost perplexity, as
// it did for the refit (refit.h). False (W unchanged) when H + λI is not
// positive definite.
bool fit_to_float_output(float* w, int64_t rows, int64_t cols, const std::vector<double>& h,
                         const std::vector<double>& cross, const std::vector<double>& h_float, double damp,
                         ThreadPool& pool);

}  // namespace qinfer
