#include "qinfer/runtime/context.h"

#include <algorithm>

#include "qinfer/core/error.h"
#include "qinfer/core/threads.h"
#include "qinfer/runtime/context_checks.h"

namespace qinfer {

namespace {

int context_size(const ModelConfig& c, const ContextParams& p) {
  const int n = p.n_ctx > 0 ? p.n_ctx : std::min(c.n_ctx_train, 4096);
  if (n <= 0 || n > (1 << 22)) throw InputError("context size " + std::to_string(n) + " is invalid");
  if (p.kv_budget_tokens > 0 && p.kv_budget_tokens < n)
    throw InputError("a context of " + std::to_string(n) + " tokens does not fit --kv-budget of " +
                     std::to_string(p.kv_budget_tokens) + " tokens (lower -c or raise the budget)");
  return n;
}

ForwardParams forward_params(const ContextParams& p, int n_ctx) {
  ForwardParams f;
  f.max_tokens = std::min(std::max(1, p.n_batch), n_ctx);
  f.max_seqs = 1;
  f.max_logits = f.max_tokens;
  f.n_ctx = n_ctx;
  f.n_threads = p.n_threads;
  f.fuse = p.fuse;
  f.segments = p.segments;
  f.observer = p.observer;
  return f;
}

int blocks_for(int n_ctx, int block) {
  if (block <= 0 || block % kernels::kKeyTile != 0)
    throw InputError("--kv-block " + std::to_string(block) + ": expected a positive multiple of " +
                     std::to_string(kernels::kKeyTile));
  return (n_ctx + block - 1) / block;
}

}  // namespace

RuntimeMemory Context::memory(const ModelConfig& c, const ContextParams& params, int logits_rows) {
  RuntimeMemory m;
  m.n_ctx = context_size(c, params);
  const ForwardParams fp = forward_params(params, m.n_ctx);
  m.max_tokens = fp.max_tokens;
  m.n_threads = resolve_thread_count(params.n_threads);
  m.kv_block = params.kv_block;
  m.kv_blocks = blocks_for(m.n_ctx, params.kv_block);
  m.kv_bytes_per_token = qinfer::kv_bytes_per_token(c, params.cache_type);
  m.kv_block_bytes = KvCache::block_bytes_for(c, params.cache_type, params.kv_block);
  m.kv_bytes = m.kv_block_bytes * size_t(m.kv_blocks);
  m.forward_bytes = Forward::buffer_bytes(c, fp);
  m.logits_bytes = size_t(std::clamp(logits_rows, 1, m.n_ctx)) * size_t(c.n_vocab) * sizeof(float);
  return m;
}

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      n_ctx_(context_size(model.config, params)),
      n_batch_(std::min(std::max(1, params.n_batch), n_ctx_)),
      forward_(model, forward_params(params, n_ctx_)),
      cache_(model.config, params.cache_type, params.kv_block, blocks_for(n_ctx_, params.kv_block)) {
  if (n_ctx_ > model.config.n_ctx_train) warn_context_beyond_training(n_ctx_, model.config.n_ctx_train);
  blocks_.resize(size_t(cache_.n_blocks()));
  for (size_t i = 0; i < blocks_.size(); ++i) blocks_[i] = int32_t(i);
  logits_.assign(size_t(model.config.n_vocab), 0);
}

Context::~Context() = default;

void Context::truncate(int n) { n_past_ = std::clamp(n, 0, n_past_); }

const float* Context::logits(int i) const {
  const int row = i - logits_first_;
  if (row < 0 || row >= logits_rows_) throw Error("logits for token " + std::to_string(i) + " were not computed");
  return &logits_[size_t(row) * model_.config.n_vocab];
}

void Context::eval(const int32_t* tokens, int n, bool all_logits) {
  const int n_vocab = model_.config.n_vocab;
  if (n <= 0) throw InputError("nothing to evaluate (empty token list)");
  if (n_past_ + n > n_ctx_)
    throw InputError("input of " + std::to_string(n_past_ + n) + " tokens does not fit the context of " +
                     std::to_string(n_ctx_) + " tokens (raise -c/--ctx-size)");
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      throw InputError("token id " + std::to_string(tokens[i]) + " is outside the vocabulary of " +
                       std::to_string(n_vocab));
  const size_t need = size_t(all_logits ? n : 1) * size_t(n_vocab);
  if (logits_.size() < need) logits_.resize(need);
  logits_first_ = all_logits ? 0 : n - 1;
  logits_rows_ = all_logits ? n : 1;
  for (int off = 0; off < n; off += n_batch_) {
    UbatchSeq seq;
    seq.n = std::min(n_batch_, n - off);
    seq.pos0 = n_past_;
    seq.blocks = blocks_.data();
    const bool last = off + seq.n == n;
    seq.n_logits = all_logits ? seq.n : last ? 1 : 0;
    Ubatch ub;
    ub.tokens = tokens + off;
    ub.seqs = &seq;
    ub.n_seqs = 1;
    forward_.run(ub, cache_, &logits_[size_t(all_logits ? off : 0) * n_vocab]);
    n_past_ += seq.n;
  }
  check_logits_finite(model_, logits_.data(), logits_rows_);
}

}  // namespace qinfer
