// Checks every forward path (the one-sequence Context and the batched engine)
// makes, kept out of their inner loops.
//
// NaN or Inf in the logits (from NaN/Inf weights, or an overflow in the
// forward pass) would otherwise surface as "PPL = nan" or empty generations.
// Every forward path calls check_logits_finite on the rows it produced: a
// cheap scan of n_vocab floats per row. Finding the cause is a scan of the
// weights that runs only after non-finite logits were seen.
#pragma once
#include <string>

#include "qinfer/model/model.h"

namespace qinfer {

// Warns (core/warn.h) that a context of n_ctx tokens is longer than the
// n_ctx_train the model was trained on: positions past it are untrained.
void warn_context_beyond_training(int n_ctx, int n_ctx_train);

// Throws InputError naming the model file and what produced the non-finite
// values (the first weight tensor holding NaN/Inf, else the forward pass)
// when any of the n_rows rows of n_vocab logits is not finite.
void check_logits_finite(const Model& model, const float* logits, int n_rows);

// "tensor blk.0.attn_q.weight holds NaN (row 3, column 17)" for the first
// weight with a non-finite value in file order, or "" when all are finite.
std::string find_non_finite_weight(const Model& model);

}  // namespace qinfer
