#include "qinfer/bench/roofline.h"

namespace qinfer::bench {

double bytes_read_per_token(const Model& m, double n_kv) {
  double bytes = 0;
  for (const Tensor& t : m.tensors) {
    if (&t == m.tok_embd && m.output != m.tok_embd) {
      bytes += double(t.row_bytes());  // one row looked up
      continue;
    }
    bytes += double(t.nbytes);
  }
  const ModelConfig& c = m.config;
  bytes += 2.0 * double(c.n_layer) * n_kv * double(c.kv_dim()) * 2.0;  // K and V, F16
  return bytes;
}

double roofline_tps(const Model& m, double read_bytes_per_s, int n_gen, int n_depth) {
  const double bytes = bytes_read_per_token(m, double(n_depth) + double(n_gen) / 2.0);
  return bytes > 0 ? read_bytes_per_s / bytes : 0;
}

}  // namespace qinfer::bench
