#include "qinfer/eval/measured_nll.h"

#include <cstring>
#include <filesystem>
#include <system_error>

#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"
#include "qinfer/core/mapped_file.h"
#include "qinfer/core/warn.h"

namespace qinfer {

namespace {
constexpr char kMagic[8] = {'q', 'i', 'n', 'f', 'n', 'l', 'l', '1'};
constexpr size_t kHeader = 8 + 12 + 8;
}  // namespace

std::string measured_nll_path(const std::string& logits_path) { return logits_path + ".nll"; }

MeasuredNllWriter::MeasuredNllWriter(const std::string& logits_path, int n_ctx, int n_vocab, int n_chunk)
    : dims_{n_ctx, n_vocab, n_chunk} {
  std::error_code ec;
  const auto st = std::filesystem::status(logits_path, ec);
  if (!std::filesystem::exists(st) || std::filesystem::is_regular_file(st)) path_ = measured_nll_path(logits_path);
}

MeasuredNllWriter::~MeasuredNllWriter() = default;

void MeasuredNllWriter::finish(uint64_t fingerprint) {
  if (path_.empty()) return;
  try {
    AtomicFile f(path_);
    f.write(kMagic, 8);
    f.write(dims_, sizeof dims_);
    f.write(&fingerprint, 8);
    f.write(values_.data(), values_.size() * sizeof(double));
    f.commit();
  } catch (const InputError& e) {
    // The logits are written; without their sidecar ΔPPL falls back to llama-perplexity's formula.
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    warn(std::string(e.what()) + " (the measured log-probs beside the logits; PPL(base) will be recomputed from them)");
  }
}

std::vector<double> read_measured_nll(const std::string& logits_path, int n_ctx, int n_vocab, int n_chunk,
                                      uint64_t fingerprint, size_t n_rows) {
  const std::string path = measured_nll_path(logits_path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return {};
  const auto ignore = [&] {
    warn(path + ": does not belong to " + logits_path +
         " (written for other logits); PPL(base) is recomputed from the logits file instead");
    return std::vector<double>{};
  };
  if (std::filesystem::file_size(path, ec) != kHeader + n_rows * sizeof(double) || ec) return ignore();
  const MappedFile f(path);
  const int32_t want[3] = {n_ctx, n_vocab, n_chunk};
  uint64_t fp = 0;
  std::memcpy(&fp, f.data() + 20, 8);
  if (std::memcmp(f.data(), kMagic, 8) != 0 || std::memcmp(f.data() + 8, want, 12) != 0 || fp != fingerprint)
    return ignore();
  std::vector<double> v(n_rows);
  std::memcpy(v.data(), f.data() + kHeader, n_rows * sizeof(double));
  return v;
}

}  // namespace qinfer
