// The baseline's measured log-probability of each scored target token, kept
// beside a --kl-divergence-base logits file as "<logits>.nll". The logits
// file stores log-probs quantized to uint16 with a floor 16 nats under the
// top logit, so a PPL(base) recomputed from it (llama-perplexity's "Mean
// PPL(base)") is biased low wherever a target fell under the floor; with the
// sidecar, ΔPPL is the difference of two measured perplexities.
//
// Layout: "qinfnll1", int32 n_ctx, n_vocab, n_chunk, uint64 fingerprint of
// the logits file (header, tokens, first row), then one float64 per scored
// position in the logits file's row order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qinfer {

class AtomicFile;

std::string measured_nll_path(const std::string& logits_path);

class MeasuredNllWriter {
 public:
  // Writes nothing when `logits_path` is not a regular file destination
  // (/dev/stdout, a pipe): there is nowhere beside it to put the sidecar.
  MeasuredNllWriter(const std::string& logits_path, int n_ctx, int n_vocab, int n_chunk);
  ~MeasuredNllWriter();
  void add(double target_log_prob) { values_.push_back(target_log_prob); }
  // `fingerprint` of the logits file as written; commits the sidecar. A
  // failure to write it (full disk) is a warning: the logits stand alone.
  void finish(uint64_t fingerprint);

 private:
  std::string path_;
  int32_t dims_[3];
  std::vector<double> values_;
};

// The sidecar's values when "<logits>.nll" exists and matches (dimensions,
// fingerprint, count); empty when there is none. A sidecar that does not
// match is ignored with a warning naming it (the logits were rewritten by
// another tool since).
std::vector<double> read_measured_nll(const std::string& logits_path, int n_ctx, int n_vocab, int n_chunk,
                                      uint64_t fingerprint, size_t n_rows);

}  // namespace qinfer
