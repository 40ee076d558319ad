#include "qinfer/quantize/imatrix.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "qinfer/core/error.h"
#include "qinfer/quantize/imatrix_file.h"
#include "qinfer/quantize/tensor_policy.h"

namespace qinfer {

namespace {

// llama-imatrix ignores micro-batches of fewer tokens than this.
constexpr int kMinTokens = 16;

}  // namespace

void ImatrixCollector::on_matmul(const Tensor& w, const float* x, int n_tok) {
  if (n_tok < kMinTokens || w.name.rfind("blk.", 0) != 0) return;  // as llama-imatrix: blk.* weights only
  const int64_t n = w.ne[0];
  Entry& e = entries_[w.name];
  if (e.sums.empty()) e.sums.assign(size_t(n), 0.0f);
  if (int64_t(e.sums.size()) != n)
    throw Error("imatrix: inconsistent input width for " + w.name);
  ++e.ncall;
  // float sums in token order, as llama-imatrix accumulates, so the values
  // round the same way.
  for (int t = 0; t < n_tok; ++t) {
    const float* row = x + size_t(t) * n;
    for (int64_t j = 0; j < n; ++j) e.sums[j] += row[j] * row[j];
  }
  e.tokens += n_tok;
  for (float s : e.sums)
    if (!std::isfinite(s)) throw InputError("imatrix: non-finite activation sum in " + w.name);
  last_call_ = std::max(last_call_, e.ncall);
}

void ImatrixCollector::write(const std::string& path, const std::string& dataset) const {
  std::vector<const std::string*> names;
  for (const auto& [name, e] : entries_)
    if (e.tokens > 0) names.push_back(&name);
  std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return llama_tensor_less(*a, *b); });
  if (names.empty()) throw InputError(path + ": no matmul inputs were collected (is the text long enough?)");

  std::vector<ImatrixRecord> records;
  for (const std::string* name : names) {
    const Entry& e = entries_.at(*name);
    ImatrixRecord& r = records.emplace_back(ImatrixRecord{*name, e.ncall, {}});
    r.importance.resize(e.sums.size());
    for (size_t j = 0; j < e.sums.size(); ++j) r.importance[j] = e.sums[j] / float(e.tokens);
  }
  write_imatrix_file(path, records, last_call_, dataset);
}

int collect_imatrix(const Model& model, std::vector<int32_t> tokens, const ImatrixParams& params,
                    ImatrixCollector& collector, const std::function<void(int, int)>& on_chunk) {
  const int n_ctx = params.n_ctx;
  if (n_ctx < kMinTokens) throw InputError("context size " + std::to_string(n_ctx) + " is below the minimum of 16");
  if (tokens.size() < size_t(2) * n_ctx)
    throw InputError("the text gives " + std::to_string(tokens.size()) + " tokens; at least " +
                     std::to_string(2 * n_ctx) + " are needed for chunks of " + std::to_string(n_ctx));
  int n_chunk = int(tokens.size() / size_t(n_ctx));
  if (params.n_chunks >= 0) n_chunk = std::min(n_chunk, params.n_chunks);

  ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_batch = std::min(params.n_batch, n_ctx);
  cp.n_threads = params.n_threads;
  cp.observer = &collector;
  cp.cache_type = params.cache_type;
  cp.kv_block = params.kv_block;
  Context ctx(model, cp);
  const bool add_bos = model.tokenizer && model.tokenizer->vocab().add_bos;
  for (int i = 0; i < n_chunk; ++i) {
    int32_t* chunk = tokens.data() + size_t(i) * n_ctx;
    const int32_t first = chunk[0];
    if (add_bos) chunk[0] = model.tokenizer->bos();
    ctx.reset();
    ctx.eval(chunk, n_ctx, false);
    chunk[0] = first;
    if (on_chunk) on_chunk(i, n_chunk);
  }
  return n_chunk;
}

}  // namespace qinfer
