#include "qinfer/runtime/context.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/core/threads.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/runtime/context_checks.h"

namespace qinfer {

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      observer_(params.observer),
      n_ctx_(params.n_ctx > 0 ? params.n_ctx : std::min(model.config.n_ctx_train, 4096)),
      n_batch_(std::max(1, params.n_batch)),
      pool_(resolve_thread_count(params.n_threads)) {
  const ModelConfig& c = model.config;
  if (n_ctx_ <= 0 || n_ctx_ > (1 << 22)) throw InputError("context size " + std::to_string(n_ctx_) + " is invalid");
  if (n_ctx_ > c.n_ctx_train) warn_context_beyond_training(n_ctx_, c.n_ctx_train);
  n_batch_ = std::min(n_batch_, n_ctx_);
  rope_.init(c.rope, n_ctx_, model.rope_freqs ? reinterpret_cast<const float*>(model.rope_freqs->data) : nullptr);

  const size_t kv_elems = size_t(c.n_layer) * size_t(n_ctx_) * size_t(c.kv_dim());
  k_cache_.assign(kv_elems, 0);
  v_cache_.assign(kv_elems, 0);

  const size_t B = size_t(n_batch_);
  x_.assign(B * c.n_embd, 0);
  xn_.assign(B * std::max(c.n_embd, c.q_dim()), 0);
  q_.assign(B * c.q_dim(), 0);
  k_.assign(B * c.kv_dim(), 0);
  v_.assign(B * c.kv_dim(), 0);
  attn_.assign(B * c.q_dim(), 0);
  tmp_.assign(B * c.n_embd, 0);
  gate_.assign(B * c.n_ff, 0);
  up_.assign(B * c.n_ff, 0);
  // Largest activation row in any dot type is at most 4 bytes per element plus block headers.
  const int64_t widest = std::max({c.n_embd, c.q_dim(), c.n_ff});
  act_q_.assign(B * size_t(widest) * 4 + B * 64, 0);
  scores_.assign(size_t(pool_.size()) * n_ctx_, 0);
  probs16_.assign(size_t(pool_.size()) * n_ctx_, 0);
  q16_.assign(size_t(pool_.size()) * c.head_dim, 0);
  logits_.assign(size_t(c.n_vocab), 0);
}

Context::~Context() = default;

size_t Context::kv_cache_bytes() const { return (k_cache_.size() + v_cache_.size()) * sizeof(uint16_t); }

void Context::truncate(int n) { n_past_ = std::clamp(n, 0, n_past_); }

const float* Context::logits(int i) const {
  const int row = i - logits_first_;
  if (row < 0 || row >= logits_rows_) throw Error("logits for token " + std::to_string(i) + " were not computed");
  return &logits_[size_t(row) * model_.config.n_vocab];
}

void Context::eval(const int32_t* tokens, int n, bool all_logits) {
  const ModelConfig& c = model_.config;
  if (n <= 0) throw InputError("nothing to evaluate (empty token list)");
  if (n_past_ + n > n_ctx_)
    throw InputError("input of " + std::to_string(n_past_ + n) + " tokens does not fit the context of " +
                     std::to_string(n_ctx_) + " tokens (raise -c/--ctx-size)");
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
      throw InputError("token id " + std::to_string(tokens[i]) + " is outside the vocabulary of " +
                       std::to_string(c.n_vocab));
  const size_t need = size_t(all_logits ? n : 1) * c.n_vocab;
  if (logits_.size() < need) logits_.resize(need);
  logits_first_ = all_logits ? 0 : n - 1;
  logits_rows_ = all_logits ? n : 1;
  for (int off = 0; off < n; off += n_batch_) {
    const int nb = std::min(n_batch_, n - off);
    const bool last = off + nb == n;
    forward_batch(tokens + off, nb, all_logits || last, all_logits ? off : -1);
  }
  check_logits_finite(model_, logits_.data(), logits_rows_);
}

void Context::matmul(const Tensor& w, const float* x, int n_tok, float* y) {
  if (observer_) observer_->on_matmul(w, x, n_tok);
  const int64_t n = w.ne[0];
  const int64_t rows = w.ne[1];
  const TypeId dot_type = type_info(w.type).vec_dot_type;
  const size_t x_stride = row_size(dot_type, n);
  const void* xq = x;
  if (dot_type != TypeId::F32) {
    uint8_t* dst = act_q_.data();
    pool_.parallel_for(n_tok, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) kernels::convert_activations(dot_type, x + t * n, dst + t * x_stride, n);
    });
    xq = dst;
  }
  const size_t w_stride = w.row_bytes();
  pool_.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    kernels::matmul_rows(w.type, n, w.data, w_stride, r0, r1, xq, x_stride, n_tok, y, rows);
  });
}

void Context::attention(int il, int n) {
  const ModelConfig& c = model_.config;
  const int hd = c.head_dim, kvd = c.kv_dim(), qd = c.q_dim();
  const int group = c.n_head / c.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  const uint16_t* K = &k_cache_[size_t(il) * n_ctx_ * kvd];
  const uint16_t* V = &v_cache_[size_t(il) * n_ctx_ * kvd];
  const int64_t jobs = int64_t(n) * c.n_head;
  pool_.run([&](int ith, int nth) {
    float* scores = &scores_[size_t(ith) * n_ctx_];
    uint16_t* p16 = &probs16_[size_t(ith) * n_ctx_];
    uint16_t* q16 = &q16_[size_t(ith) * hd];
    for (int64_t job = ith; job < jobs; job += nth) {
      const int t = int(job / c.n_head), h = int(job % c.n_head), g = h / group;
      const int pos = n_past_ + t;
      const int n_kv = pos + 1;  // causal: keys 0..pos
      // Q is rounded to F16 before Q·K as llama.cpp does with an F16 cache.
      const float* q = &q_[size_t(t) * qd + size_t(h) * hd];
      for (int d = 0; d < hd; ++d) q16[d] = f32_to_fp16(q[d]);
      for (int j = 0; j < n_kv; ++j)
        scores[j] = kernels::vec_dot(TypeId::F16, hd, K + size_t(j) * kvd + size_t(g) * hd, q16) * scale;
      ops::softmax(scores, n_kv);
      for (int j = 0; j < n_kv; ++j) p16[j] = f32_to_fp16(scores[j]);
      float* out = &attn_[size_t(t) * qd + size_t(h) * hd];
      std::fill(out, out + hd, 0.0f);
      for (int j = 0; j < n_kv; ++j) {
        const float p = fp16_to_f32(p16[j]);
        if (p == 0.0f) continue;
        const uint16_t* vr = V + size_t(j) * kvd + size_t(g) * hd;
        for (int d = 0; d < hd; ++d) out[d] += p * fp16_to_f32(vr[d]);
      }
    }
  });
}

void Context::forward_batch(const int32_t* tokens, int n, bool want_logits, int logits_offset) {
  const Model& m = model_;
  const ModelConfig& c = m.config;
  const int E = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim(), F = c.n_ff;

  // Embedding lookup (dequantize the rows).
  const TypeInfo& emb_type = type_info(m.tok_embd->type);
  for (int t = 0; t < n; ++t) emb_type.to_float(m.tok_embd->row(tokens[t]), &x_[size_t(t) * E], E);

  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = m.layers[size_t(il)];
    const float* attn_norm = reinterpret_cast<const float*>(L.attn_norm->data);
    for (int t = 0; t < n; ++t) ops::rms_norm(&x_[size_t(t) * E], attn_norm, &xn_[size_t(t) * E], E, c.norm_eps);
    matmul(*L.wq, xn_.data(), n, q_.data());
    matmul(*L.wk, xn_.data(), n, k_.data());
    matmul(*L.wv, xn_.data(), n, v_.data());
    if (L.bq) {
      const float* bq = reinterpret_cast<const float*>(L.bq->data);
      const float* bk = reinterpret_cast<const float*>(L.bk->data);
      const float* bv = reinterpret_cast<const float*>(L.bv->data);
      for (int t = 0; t < n; ++t) {
        for (int i = 0; i < qd; ++i) q_[size_t(t) * qd + i] += bq[i];
        for (int i = 0; i < kvd; ++i) k_[size_t(t) * kvd + i] += bk[i];
        for (int i = 0; i < kvd; ++i) v_[size_t(t) * kvd + i] += bv[i];
      }
    }
    // RoPE, then append K and V to the cache as F16.
    uint16_t* Kc = &k_cache_[size_t(il) * n_ctx_ * kvd];
    uint16_t* Vc = &v_cache_[size_t(il) * n_ctx_ * kvd];
    for (int t = 0; t < n; ++t) {
      const int pos = n_past_ + t;
      for (int h = 0; h < c.n_head; ++h) rope_.apply(&q_[size_t(t) * qd + size_t(h) * c.head_dim], pos);
      for (int h = 0; h < c.n_head_kv; ++h) rope_.apply(&k_[size_t(t) * kvd + size_t(h) * c.head_dim], pos);
      for (int i = 0; i < kvd; ++i) {
        Kc[size_t(pos) * kvd + i] = f32_to_fp16(k_[size_t(t) * kvd + i]);
        Vc[size_t(pos) * kvd + i] = f32_to_fp16(v_[size_t(t) * kvd + i]);
      }
    }
    attention(il, n);
    matmul(*L.wo, attn_.data(), n, tmp_.data());
    for (size_t i = 0; i < size_t(n) * E; ++i) x_[i] += tmp_[i];

    // Feed-forward: down(silu(gate(x)) * up(x)).
    const float* ffn_norm = reinterpret_cast<const float*>(L.ffn_norm->data);
    for (int t = 0; t < n; ++t) ops::rms_norm(&x_[size_t(t) * E], ffn_norm, &xn_[size_t(t) * E], E, c.norm_eps);
    matmul(*L.ffn_gate, xn_.data(), n, gate_.data());
    matmul(*L.ffn_up, xn_.data(), n, up_.data());
    pool_.parallel_for(n, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) ops::swiglu(&gate_[size_t(t) * F], &up_[size_t(t) * F], F);
    });
    matmul(*L.ffn_down, gate_.data(), n, tmp_.data());
    for (size_t i = 0; i < size_t(n) * E; ++i) x_[i] += tmp_[i];
  }
  n_past_ += n;

  if (!want_logits) return;
  // Final norm and classifier for the rows whose logits are wanted.
  const int first = logits_offset >= 0 ? 0 : n - 1;
  const int rows = n - first;
  const float* out_norm = reinterpret_cast<const float*>(m.output_norm->data);
  for (int t = first; t < n; ++t)
    ops::rms_norm(&x_[size_t(t) * E], out_norm, &xn_[size_t(t - first) * E], E, c.norm_eps);
  float* dst = &logits_[size_t(logits_offset >= 0 ? logits_offset : 0) * c.n_vocab];
  matmul(*m.output, xn_.data(), rows, dst);
}

}  // namespace qinfer
