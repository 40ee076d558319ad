#include "qinfer/eval/kld_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "qinfer/core/error.h"
#include "qinfer/core/fnv1a.h"
#include "qinfer/core/mapped_file.h"
#include "qinfer/eval/measured_nll.h"

namespace qinfer {

namespace {
constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
size_t row_len_for(int n_vocab) { return size_t(2 * ((n_vocab + 1) / 2) + 4); }
}  // namespace

KldBaseReader::KldBaseReader(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  const uint8_t* p = file_->data();
  const size_t size = file_->size();
  if (size < 20 || std::memcmp(p, kMagic, 8) != 0)
    throw InputError(path + ": not a llama.cpp logits file (missing _logits_ header)");
  int32_t hdr[3];
  std::memcpy(hdr, p + 8, 12);
  n_ctx_ = hdr[0];
  n_vocab_ = hdr[1];
  n_chunk_ = hdr[2];
  if (n_ctx_ < 4 || n_ctx_ > (1 << 20) || n_vocab_ <= 0 || n_vocab_ > (1 << 24) || n_chunk_ <= 0 || n_chunk_ > (1 << 24))
    throw InputError(path + ": logits file header is invalid (n_ctx " + std::to_string(n_ctx_) + ", n_vocab " +
                     std::to_string(n_vocab_) + ", n_chunk " + std::to_string(n_chunk_) + ")");
  row_len_ = row_len_for(n_vocab_);
  const unsigned __int128 need = 20 + (unsigned __int128)n_ctx_ * n_chunk_ * 4 +
                                 (unsigned __int128)n_chunk_ * rows_per_chunk() * row_len_ * 2;
  if (need != size)
    throw InputError(path + ": logits file is " + std::to_string(size) + " bytes, expected " +
                     std::to_string(uint64_t(need)) + " from its header (truncated?)");
  tokens_ = reinterpret_cast<const int32_t*>(p + 20);
  rows_ = reinterpret_cast<const uint16_t*>(p + 20 + size_t(n_ctx_) * n_chunk_ * 4);
  const uint64_t fp = fnv1a(rows_, row_len_ * 2, fnv1a(p, 20 + size_t(n_ctx_) * n_chunk_ * 4));
  measured_ = read_measured_nll(path, n_ctx_, n_vocab_, n_chunk_, fp, size_t(n_chunk_) * size_t(rows_per_chunk()));
}

KldBaseReader::~KldBaseReader() = default;

void KldBaseReader::log_probs(int chunk, int row, float* out) const {
  const uint16_t* r = rows_ + (size_t(chunk) * rows_per_chunk() + size_t(row)) * row_len_;
  float scale, min_log_prob;
  std::memcpy(&scale, r, 4);
  std::memcpy(&min_log_prob, r + 2, 4);
  for (int i = 0; i < n_vocab_; ++i) out[i] = min_log_prob + scale * float(r[4 + i]);
}

KldBaseWriter::KldBaseWriter(const std::string& path, int n_ctx, int n_vocab, int n_chunk, const int32_t* tokens)
    : file_(path),
      n_vocab_(n_vocab),
      row_(row_len_for(n_vocab), 0),
      measured_(std::make_unique<MeasuredNllWriter>(path, n_ctx, n_vocab, n_chunk)) {
  const int32_t hdr[3] = {n_ctx, n_vocab, n_chunk};
  const size_t token_bytes = sizeof(int32_t) * size_t(n_ctx) * size_t(n_chunk);
  file_.write(kMagic, 8);
  file_.write(hdr, sizeof hdr);
  file_.write(tokens, token_bytes);
  fingerprint_ = fnv1a(tokens, token_bytes, fnv1a(hdr, sizeof hdr, fnv1a(kMagic, 8)));
}

KldBaseWriter::~KldBaseWriter() = default;

void KldBaseWriter::add_row(const float* logits, double target_log_prob) {
  float max_logit = logits[0], min_logit = logits[0];
  for (int i = 1; i < n_vocab_; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    min_logit = std::min(min_logit, logits[i]);
  }
  min_logit = std::max(min_logit, max_logit - 16);
  double sum_exp = 0;
  for (int i = 0; i < n_vocab_; ++i) sum_exp += std::exp(double(logits[i] - max_logit));
  const float log_sum_exp = float(std::log(sum_exp));
  const float scale = (max_logit - min_logit) / 65535.f;
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float inv_scale = scale > 0 ? 1.0f / scale : 0.0f;
  std::memcpy(&row_[0], &scale, 4);
  std::memcpy(&row_[2], &min_log_prob, 4);
  for (int i = 0; i < n_vocab_; ++i) {
    const float v = logits[i] - min_logit;
    row_[size_t(4 + i)] = v > 0 ? uint16_t(std::min(65535.0f, std::nearbyint(v * inv_scale))) : 0;
  }
  file_.write(row_.data(), sizeof(uint16_t) * row_.size());
  if (first_row_) fingerprint_ = fnv1a(row_.data(), sizeof(uint16_t) * row_.size(), fingerprint_);
  first_row_ = false;
  measured_->add(target_log_prob);
}

// The logits first, so a failure to write names the file the user asked for;
// an older sidecar left beside them no longer matches their fingerprint.
void KldBaseWriter::finish() {
  file_.commit();
  measured_->finish(fingerprint_);
}

}  // namespace qinfer
