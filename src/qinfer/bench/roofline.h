// The decode roofline: a generated token reads every weight matrix once (and
// one row of the token embedding) plus the K and V cache of every earlier
// position, so tokens/s can be at most read bandwidth ÷ those bytes.
#pragma once
#include <cstddef>

#include "qinfer/model/model.h"

namespace qinfer::bench {

// Bytes read for one generated token when `n_kv` positions are cached (F16 K and V).
double bytes_read_per_token(const Model& model, double n_kv);

// The highest tg tokens/s the bandwidth allows for `tg N @ dD`: the cache
// holds D + N/2 positions on average over the test.
double roofline_tps(const Model& model, double read_bytes_per_s, int n_gen, int n_depth);

}  // namespace qinfer::bench
