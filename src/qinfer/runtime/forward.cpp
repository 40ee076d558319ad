#include "qinfer/runtime/forward.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "qinfer/core/error.h"
#include "qinfer/core/threads.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/kernels/packed.h"

namespace qinfer {

namespace {

constexpr int kMaxAttentionRows = 64;  // query rows per attention job (tokens × heads of a group)

// An A/B switch in the environment: set, non-empty and not "0".
bool env_flag(const char* name) {
  const char* env = std::getenv(name);
  return env && *env && std::strcmp(env, "0") != 0;
}

// Rows per chunk of a weight matmul handed out by the pool: whole 16-row
// groups (the batched decode kernels' unit; 64 rows, the prefill kernels' row
// block, for longer batches), about four chunks per thread. A thread that is
// preempted mid-matmul then holds back at most one chunk while the others take
// the rest, and the shared counter is touched a handful of times per matmul.
int64_t row_chunk(int64_t rows, int64_t n_tok, int threads) {
  const int64_t unit = n_tok > 16 ? 64 : 16;
  const int64_t want = (rows + 4 * threads - 1) / (4 * threads);
  return std::max(unit, (want + unit - 1) / unit * unit);
}

}  // namespace

// Element counts of every buffer: the one place their sizes are decided.
struct Forward::Sizes {
  ForwardParams p;  // clamped
  size_t tokens, x, xn, q, kv, attn, tmp, ff, act_q;  // per buffer (act_q in bytes, the others in floats)
  size_t seqs, jobs;
  int tile_tokens;
  size_t attn_scratch;  // bytes per thread
  int n_threads;
};

Forward::Sizes Forward::sizes(const ModelConfig& c, const ForwardParams& params, int n_threads) {
  Sizes z{};
  z.p = params;
  z.p.max_tokens = std::max(1, z.p.max_tokens);
  z.p.max_seqs = std::max(1, z.p.max_seqs);
  z.p.max_logits = std::max(1, z.p.max_logits);
  z.n_threads = n_threads;
  const size_t B = size_t(z.p.max_tokens);
  const size_t rows = std::max(B, size_t(z.p.max_logits));
  z.tokens = B;
  z.seqs = size_t(z.p.max_seqs);
  const int group = c.n_head / c.n_head_kv;
  z.tile_tokens = std::max(1, kMaxAttentionRows / group);
  z.jobs = size_t(c.n_head_kv) * (B / size_t(z.tile_tokens) + z.seqs + 1);
  z.attn_scratch = kernels::attention_scratch_bytes(c.head_dim, z.tile_tokens * group, z.p.n_ctx);
  z.x = B * c.n_embd;
  z.xn = rows * std::max(c.n_embd, c.q_dim());
  z.q = B * c.q_dim();
  z.kv = B * c.kv_dim();
  z.attn = B * c.q_dim();
  z.tmp = B * c.n_embd;
  z.ff = B * c.n_ff;
  // Largest activation row in any dot type is at most 4 bytes per element plus block headers.
  const int64_t widest = std::max({c.n_embd, c.q_dim(), c.n_ff});
  z.act_q = rows * size_t(widest) * 4 + rows * 64;
  return z;
}

size_t Forward::buffer_bytes(const ModelConfig& c, const ForwardParams& params) {
  const Sizes z = sizes(c, params, resolve_thread_count(params.n_threads));
  const size_t floats = z.x + z.xn + z.q + 2 * z.kv + z.attn + z.tmp + 2 * z.ff;
  return floats * sizeof(float) + z.act_q + z.attn_scratch * size_t(z.n_threads) +
         3 * z.tokens * sizeof(int32_t) + z.seqs * sizeof(int) + z.jobs * sizeof(AttnJob) +
         ops::RopeCache::bytes_for(c.rope, z.p.n_ctx);
}

size_t Forward::allocated_bytes() const {
  size_t floats = 0;
  for (const std::vector<float>* v : {&x_, &xn_, &q_, &k_, &v_, &attn_, &tmp_, &gate_, &up_}) floats += v->capacity();
  return floats * sizeof(float) + act_q_.capacity() + attn_scratch_.capacity() +
         (pos_.capacity() + block_.capacity() + slot_.capacity()) * sizeof(int32_t) +
         seq_first_.capacity() * sizeof(int) + jobs_.capacity() * sizeof(AttnJob) + rope_.bytes();
}

Forward::Forward(const Model& model, const ForwardParams& params)
    : model_(model), params_(params), pool_(resolve_thread_count(params.n_threads)) {
  const ModelConfig& c = model.config;
  if (params_.n_ctx <= 0 || params_.n_ctx > (1 << 22))
    throw InputError("context size " + std::to_string(params_.n_ctx) + " is invalid");
  const Sizes z = sizes(c, params, pool_.size());
  params_ = z.p;
  if (env_flag("QINFER_NO_FUSE")) params_.fuse = false;
  if (env_flag("QINFER_SEGMENTS")) params_.segments = true;
  rope_.init(c.rope, params_.n_ctx, model.rope_freqs ? reinterpret_cast<const float*>(model.rope_freqs->data) : nullptr);

  pos_.assign(z.tokens, 0);
  block_.assign(z.tokens, 0);
  slot_.assign(z.tokens, 0);
  seq_first_.assign(z.seqs, 0);
  tile_tokens_ = z.tile_tokens;
  jobs_.reserve(z.jobs);
  attn_scratch_bytes_ = z.attn_scratch;
  attn_scratch_.assign(attn_scratch_bytes_ * size_t(pool_.size()), 0);
  x_.assign(z.x, 0);
  xn_.assign(z.xn, 0);
  q_.assign(z.q, 0);
  k_.assign(z.kv, 0);
  v_.assign(z.kv, 0);
  attn_.assign(z.attn, 0);
  tmp_.assign(z.tmp, 0);
  gate_.assign(z.ff, 0);
  up_.assign(z.ff, 0);
  act_q_.assign(z.act_q, 0);
}

const void* Forward::convert(const Tensor& w, const float* x, int n_tok, bool same_input, size_t* stride) {
  if (params_.observer) params_.observer->on_matmul(w, x, n_tok);
  const int64_t n = w.ne[0];
  const TypeId dot_type = type_info(w.type).vec_dot_type;
  *stride = row_size(dot_type, n);
  if (dot_type == TypeId::F32) {
    converted_n_ = 0;
    return x;
  }
  uint8_t* dst = act_q_.data();
  // Q/K/V (and gate/up) read the same activations: convert them once.
  if (!(same_input && converted_type_ == dot_type && converted_n_ == n)) {
    const size_t x_stride = *stride;
    pool_.parallel_chunks(n_tok, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) kernels::convert_activations(dot_type, x + t * n, dst + t * x_stride, n);
    });
  }
  converted_type_ = dot_type;
  converted_n_ = n;
  return dst;
}

void Forward::matmul_range(const Tensor& w, const void* xq, size_t x_stride, int n_tok, float* y, int64_t r0,
                           int64_t r1) {
  const int64_t n = w.ne[0], rows = w.ne[1];
  // Repacked weights (model/repack.h) unless the ISA in use has no kernel for
  // them (a test pinned another path): then the file's rows, the same values.
  if (w.packed && kernels::has_packed_matmul(w.type))
    kernels::matmul_packed(w.type, n, w.packed, rows, r0, r1, xq, x_stride, n_tok, y, rows);
  else
    kernels::matmul_rows(w.type, n, w.data, w.row_bytes(), r0, r1, xq, x_stride, n_tok, y, rows);
}

void Forward::split_rows(int64_t rows, int n_tok, FunctionRef<void(int64_t, int64_t)> fn) {
  if (params_.segments && n_tok <= 16)
    pool_.parallel_segments(rows, 16, fn);
  else
    pool_.parallel_chunks(rows, row_chunk(rows, n_tok, pool_.size()), fn);
}

// Fused regions for decode and small batches only: at 512-token prefills
// they measured slower (Q6_K pp512 2 threads −7…−10 %, Q4_0 −4 %, quiet
// machine): a prefill chunk is long enough that the region count does not
// matter, and the kernels' per-call token preparation is shared by fewer rows.
bool Forward::fuse(int n_tok) const { return params_.fuse && n_tok <= 16; }

void Forward::matmul(const Tensor& w, const float* x, int n_tok, float* y, bool same_input) {
  size_t x_stride = 0;
  const void* xq = convert(w, x, n_tok, same_input, &x_stride);
  split_rows(w.ne[1], n_tok, [&](int64_t r0, int64_t r1) { matmul_range(w, xq, x_stride, n_tok, y, r0, r1); });
}

namespace {
// Whether two matmuls can share one conversion of their input.
bool same_dot_input(const Tensor& a, const Tensor& b) {
  return a.ne[0] == b.ne[0] && type_info(a.type).vec_dot_type == type_info(b.type).vec_dot_type;
}
}  // namespace

void Forward::qkv(const LayerWeights& L, int n_tok) {
  const Tensor* ws[3] = {L.wq, L.wk, L.wv};
  float* ys[3] = {q_.data(), k_.data(), v_.data()};
  if (!fuse(n_tok) || !same_dot_input(*L.wq, *L.wk) || !same_dot_input(*L.wq, *L.wv)) {
    for (int j = 0; j < 3; ++j) matmul(*ws[j], xn_.data(), n_tok, ys[j], j > 0);
    return;
  }
  size_t x_stride = 0;
  const void* xq = convert(*L.wq, xn_.data(), n_tok, false, &x_stride);
  for (int j = 1; j < 3; ++j) convert(*ws[j], xn_.data(), n_tok, true, &x_stride);  // the observer sees each
  // One row space: each matrix from a multiple of 64 (every chunk unit), so a
  // chunk's rows inside it start where they would in a region of its own.
  int64_t start[4] = {0};
  for (int j = 0; j < 3; ++j) start[j + 1] = start[j] + (ws[j]->ne[1] + 63) / 64 * 64;
  split_rows(start[3], n_tok, [&](int64_t g0, int64_t g1) {
    for (int j = 0; j < 3; ++j) {
      const int64_t r0 = std::max(g0, start[j]) - start[j];
      const int64_t r1 = std::min(g1 - start[j], ws[j]->ne[1]);
      if (r0 < r1) matmul_range(*ws[j], xq, x_stride, n_tok, ys[j], r0, r1);
    }
  });
}

void Forward::gate_up_swiglu(const LayerWeights& L, int n_tok) {
  const int64_t F = model_.config.n_ff;
  if (!fuse(n_tok) || !same_dot_input(*L.ffn_gate, *L.ffn_up)) {
    matmul(*L.ffn_gate, xn_.data(), n_tok, gate_.data());
    matmul(*L.ffn_up, xn_.data(), n_tok, up_.data(), true);
    pool_.parallel_chunks(n_tok, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) ops::swiglu(&gate_[size_t(t * F)], &up_[size_t(t * F)], F);
    });
    return;
  }
  size_t x_stride = 0;
  const void* xq = convert(*L.ffn_gate, xn_.data(), n_tok, false, &x_stride);
  convert(*L.ffn_up, xn_.data(), n_tok, true, &x_stride);
  // SwiGLU is elementwise: each thread on the rows it has just computed.
  split_rows(F, n_tok, [&](int64_t r0, int64_t r1) {
    matmul_range(*L.ffn_gate, xq, x_stride, n_tok, gate_.data(), r0, r1);
    matmul_range(*L.ffn_up, xq, x_stride, n_tok, up_.data(), r0, r1);
    for (int64_t t = 0; t < n_tok; ++t) ops::swiglu(&gate_[size_t(t * F + r0)], &up_[size_t(t * F + r0)], r1 - r0);
  });
}

void Forward::matmul_add(const Tensor& w, const float* in, int n_tok) {
  const size_t E = size_t(model_.config.n_embd);
  if (!fuse(n_tok)) {
    matmul(w, in, n_tok, tmp_.data());
    for (size_t i = 0; i < size_t(n_tok) * E; ++i) x_[i] += tmp_[i];
    return;
  }
  size_t x_stride = 0;
  const void* xq = convert(w, in, n_tok, false, &x_stride);
  split_rows(w.ne[1], n_tok, [&](int64_t r0, int64_t r1) {
    matmul_range(w, xq, x_stride, n_tok, tmp_.data(), r0, r1);
    for (int64_t t = 0; t < n_tok; ++t)
      for (size_t i = t * E + size_t(r0); i < t * E + size_t(r1); ++i) x_[i] += tmp_[i];
  });
}

void Forward::attention(int il, const Ubatch& ub, const KvCache& cache) {
  const ModelConfig& c = model_.config;
  const int hd = c.head_dim, qd = c.q_dim();
  const int group = c.n_head / c.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  jobs_.clear();
  for (int s = 0; s < ub.n_seqs; ++s)
    for (int t0 = 0; t0 < ub.seqs[s].n; t0 += tile_tokens_)
      for (int g = 0; g < c.n_head_kv; ++g) jobs_.push_back({s, g, t0, std::min(tile_tokens_, ub.seqs[s].n - t0)});
  next_job_.store(0, std::memory_order_relaxed);
  const int n_jobs = int(jobs_.size());
  pool_.run_some([&](int ith, int) {
    void* scratch = attn_scratch_.data() + size_t(ith) * attn_scratch_bytes_;
    for (int j = next_job_.fetch_add(1, std::memory_order_relaxed); j < n_jobs;
         j = next_job_.fetch_add(1, std::memory_order_relaxed)) {
      const AttnJob& job = jobs_[size_t(j)];
      const UbatchSeq& seq = ub.seqs[job.seq];
      const size_t tok = size_t(seq_first_[size_t(job.seq)] + job.t0);
      const size_t off = tok * size_t(qd) + size_t(job.head) * size_t(group) * size_t(hd);
      kernels::AttentionRows rows;
      rows.q = &q_[off];
      rows.out = &attn_[off];
      rows.stride = qd;
      rows.n_tok = job.n;
      rows.n_heads = group;
      rows.pos0 = seq.pos0 + job.t0;
      rows.scale = scale;
      kernels::attention(cache.view(il, job.head, seq.blocks), rows, scratch, attn_scratch_bytes_);
    }
  });
}

void Forward::run(const Ubatch& ub, KvCache& cache, float* logits) {
  run_layers(ub, cache, 0, model_.config.n_layer, nullptr, logits);
}

void Forward::run_layers(const Ubatch& ub, KvCache& cache, int first, int end, float* hidden, float* logits) {
  const Model& m = model_;
  const ModelConfig& c = m.config;
  if (first < 0 || first > end || end > c.n_layer || (!hidden && first != 0))
    throw Error("layers [" + std::to_string(first) + ", " + std::to_string(end) + ") of " +
                std::to_string(c.n_layer) + " cannot be run");
  const int E = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim();
  if (ub.n_seqs < 1 || ub.n_seqs > params_.max_seqs)
    throw Error("ubatch of " + std::to_string(ub.n_seqs) + " sequences (at most " +
                std::to_string(params_.max_seqs) + ")");
  int n = 0, n_logits = 0;
  for (int s = 0; s < ub.n_seqs; ++s) {
    const UbatchSeq& seq = ub.seqs[s];
    if (seq.n < 1 || seq.pos0 < 0 || seq.n_logits < 0 || seq.n_logits > seq.n)
      throw Error("ubatch sequence " + std::to_string(s) + " is malformed");
    if (seq.pos0 + seq.n > params_.n_ctx)
      throw InputError("input of " + std::to_string(seq.pos0 + seq.n) + " tokens does not fit the context of " +
                       std::to_string(params_.n_ctx) + " tokens (raise -c/--ctx-size)");
    seq_first_[size_t(s)] = n;
    n += seq.n;
    n_logits += seq.n_logits;
    if (n > params_.max_tokens)
      throw Error("ubatch of more than " + std::to_string(params_.max_tokens) + " tokens");
  }
  if (n_logits > params_.max_logits)
    throw Error("ubatch asks for " + std::to_string(n_logits) + " logits rows (at most " +
                std::to_string(params_.max_logits) + ")");
  for (int s = 0, i = 0; s < ub.n_seqs; ++s) {
    const UbatchSeq& seq = ub.seqs[s];
    for (int t = 0; t < seq.n; ++t, ++i) {
      if (ub.tokens[i] < 0 || ub.tokens[i] >= c.n_vocab)
        throw InputError("token id " + std::to_string(ub.tokens[i]) + " is outside the vocabulary of " +
                         std::to_string(c.n_vocab));
      const int p = seq.pos0 + t;
      pos_[size_t(i)] = p;
      block_[size_t(i)] = seq.blocks[p / cache.block_size()];
      slot_[size_t(i)] = p % cache.block_size();
    }
  }

  if (hidden) {
    std::copy(hidden, hidden + size_t(n) * E, x_.begin());
  } else {
    // Embedding lookup (dequantize the rows).
    const TypeInfo& emb_type = type_info(m.tok_embd->type);
    for (int t = 0; t < n; ++t) emb_type.to_float(m.tok_embd->row(ub.tokens[t]), &x_[size_t(t) * E], E);
  }

  for (int il = first; il < end; ++il) {
    const LayerWeights& L = m.layers[size_t(il)];
    const float* attn_norm = reinterpret_cast<const float*>(L.attn_norm->data);
    for (int t = 0; t < n; ++t) ops::rms_norm(&x_[size_t(t) * E], attn_norm, &xn_[size_t(t) * E], E, c.norm_eps);
    qkv(L, n);
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
    // RoPE at each token's own position, then K and V into the cache.
    pool_.parallel_chunks(n, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int pos = pos_[size_t(t)];
        for (int h = 0; h < c.n_head; ++h) rope_.apply(&q_[size_t(t) * qd + size_t(h) * c.head_dim], pos);
        for (int h = 0; h < c.n_head_kv; ++h) rope_.apply(&k_[size_t(t) * kvd + size_t(h) * c.head_dim], pos);
        cache.store(il, block_[size_t(t)], slot_[size_t(t)], &k_[size_t(t) * kvd], &v_[size_t(t) * kvd]);
      }
    });
    attention(il, ub, cache);
    matmul_add(*L.wo, attn_.data(), n);

    // Feed-forward: down(silu(gate(x)) * up(x)).
    const float* ffn_norm = reinterpret_cast<const float*>(L.ffn_norm->data);
    for (int t = 0; t < n; ++t) ops::rms_norm(&x_[size_t(t) * E], ffn_norm, &xn_[size_t(t) * E], E, c.norm_eps);
    gate_up_swiglu(L, n);
    matmul_add(*L.ffn_down, gate_.data(), n);
  }

  if (hidden) std::copy(x_.begin(), x_.begin() + ptrdiff_t(size_t(n) * E), hidden);
  if (n_logits == 0 || end < c.n_layer) return;
  // Final norm and classifier for the rows whose logits are wanted.
  const float* out_norm = reinterpret_cast<const float*>(m.output_norm->data);
  int row = 0;
  for (int s = 0; s < ub.n_seqs; ++s) {
    const UbatchSeq& seq = ub.seqs[s];
    for (int t = seq.n - seq.n_logits; t < seq.n; ++t, ++row)
      ops::rms_norm(&x_[size_t(seq_first_[size_t(s)] + t) * E], out_norm, &xn_[size_t(row) * E], E, c.norm_eps);
  }
  matmul(*m.output, xn_.data(), n_logits, logits);
}

}  // namespace qinfer
