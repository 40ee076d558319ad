// llama-perplexity's --kl-divergence-base file: the baseline's tokens and, for
// every scored position, its log-probabilities quantized to uint16.
// Layout: "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk,
// int32 tokens[n_ctx * n_chunk], then per chunk (n_ctx - 1 - n_ctx/2) rows of
// 2*((n_vocab+1)/2)+4 uint16: float32 scale, float32 min_log_prob, n_vocab q
// with log p = min_log_prob + scale * q (q = 0 at or below max_logit - 16).
// qinfer also writes the measured target log-probs beside it (measured_nll.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qinfer/core/atomic_file.h"

namespace qinfer {

class MappedFile;
class MeasuredNllWriter;

class KldBaseReader {
 public:
  explicit KldBaseReader(const std::string& path);  // validates sizes; InputError on a bad file
  ~KldBaseReader();
  int n_ctx() const { return n_ctx_; }
  int n_vocab() const { return n_vocab_; }
  int n_chunk() const { return n_chunk_; }
  int rows_per_chunk() const { return n_ctx_ - 1 - n_ctx_ / 2; }
  const int32_t* tokens() const { return tokens_; }
  // Decodes one row of base log-probabilities into out (n_vocab floats).
  void log_probs(int chunk, int row, float* out) const;
  // The baseline's measured log-prob of the row's target (its "<path>.nll"
  // sidecar); only when has_measured_log_probs().
  bool has_measured_log_probs() const { return !measured_.empty(); }
  double measured_log_prob(int chunk, int row) const {
    return measured_[size_t(chunk) * size_t(rows_per_chunk()) + size_t(row)];
  }

 private:
  std::unique_ptr<MappedFile> file_;
  int n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0;
  const int32_t* tokens_ = nullptr;
  const uint16_t* rows_ = nullptr;
  size_t row_len_ = 0;  // uint16 per row
  std::vector<double> measured_;
};

class KldBaseWriter {
 public:
  KldBaseWriter(const std::string& path, int n_ctx, int n_vocab, int n_chunk, const int32_t* tokens);
  ~KldBaseWriter();
  // Appends one scored position's logits and its target's measured log-prob.
  void add_row(const float* logits, double target_log_prob);
  // Commits the file (core/atomic_file.h) and its sidecar; until then nothing is under their names.
  void finish();

 private:
  AtomicFile file_;
  int n_vocab_;
  std::vector<uint16_t> row_;
  uint64_t fingerprint_;
  bool first_row_ = true;
  std::unique_ptr<MeasuredNllWriter> measured_;
};

}  // namespace qinfer
