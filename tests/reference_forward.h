// A deliberately naive float64 forward pass of the Llama/Qwen2 decoder, used
// as the numerical reference for the engine (dequantizes every weight).
// Optionally it stores K and V as a quantized KV cache would (each head's row
// rounded through the cache type's blocks) and feeds the Q·K products the
// query in the form the cache's dot takes (Q8_0 for a quantized K), so a
// quantized cache can be checked end to end against float64 arithmetic.
#pragma once
#include <cmath>
#include <optional>
#include <vector>

#include "qinfer/core/fp16.h"
#include "qinfer/kernels/attention.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/model/model.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/runtime/kv_cache.h"

namespace qinfer::test {

class ReferenceForward {
 public:
  explicit ReferenceForward(const Model& m, std::optional<KvCacheType> cache = std::nullopt)
      : m_(m), c_(m.config), cache_(cache) {
    k_.resize(size_t(c_.n_layer));
    v_.resize(size_t(c_.n_layer));
  }

  // Logits for the next token after `token` at the next position.
  std::vector<double> step(int32_t token) {
    const int E = c_.n_embd, hd = c_.head_dim, pos = int(k_[0].size());
    std::vector<double> x = row(*m_.tok_embd, token);
    for (int il = 0; il < c_.n_layer; ++il) {
      const LayerWeights& L = m_.layers[size_t(il)];
      std::vector<double> xn = rms(x, *L.attn_norm);
      std::vector<double> q = matvec(*L.wq, xn), k = matvec(*L.wk, xn), v = matvec(*L.wv, xn);
      if (L.bq) add(q, *L.bq), add(k, *L.bk), add(v, *L.bv);
      for (int h = 0; h < c_.n_head; ++h) rope(&q[size_t(h) * hd], pos);
      for (int h = 0; h < c_.n_head_kv; ++h) rope(&k[size_t(h) * hd], pos);
      if (cache_) {
        for (int h = 0; h < c_.n_head; ++h) as_query(cache_->k, &q[size_t(h) * hd]);
        for (int h = 0; h < c_.n_head_kv; ++h) {
          as_key(cache_->k, &k[size_t(h) * hd]);
          as_value(cache_->v, &v[size_t(h) * hd]);
        }
      }
      k_[size_t(il)].push_back(k);
      v_[size_t(il)].push_back(v);
      std::vector<double> att(size_t(c_.q_dim()), 0.0);
      const int group = c_.n_head / c_.n_head_kv;
      for (int h = 0; h < c_.n_head; ++h) {
        const int g = h / group;
        std::vector<double> s(size_t(pos + 1));
        double mx = -1e300;
        for (int j = 0; j <= pos; ++j) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += q[size_t(h * hd + i)] * k_[size_t(il)][size_t(j)][size_t(g * hd + i)];
          s[size_t(j)] = d / std::sqrt(double(hd));
          mx = std::max(mx, s[size_t(j)]);
        }
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int j = 0; j <= pos; ++j) {
          const double p = prob(s[size_t(j)] / sum);
          for (int i = 0; i < hd; ++i) att[size_t(h * hd + i)] += p * v_[size_t(il)][size_t(j)][size_t(g * hd + i)];
        }
      }
      add(x, matvec(*L.wo, att));
      xn = rms(x, *L.ffn_norm);
      std::vector<double> gate = matvec(*L.ffn_gate, xn), up = matvec(*L.ffn_up, xn);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      add(x, matvec(*L.ffn_down, gate));
    }
    (void)E;
    return matvec(*m_.output, rms(x, *m_.output_norm));
  }

 private:
  // One head's row through the cache's storage: the float row stored and read back.
  void as_key(TypeId t, double* x) const {
    const int hd = c_.head_dim;
    std::vector<float> f(x, x + hd), back(size_t(hd), 0.0f);
    std::vector<uint8_t> tile(kernels::k_tile_bytes(t, hd));
    kernels::store_k(t, hd, f.data(), tile.data(), 0);
    kernels::load_k(t, hd, tile.data(), 0, back.data());
    for (int i = 0; i < hd; ++i) x[i] = back[size_t(i)];
  }
  void as_value(TypeId t, double* x) const {
    const int hd = c_.head_dim;
    std::vector<float> f(x, x + hd), back(size_t(hd), 0.0f);
    std::vector<uint8_t> row(kernels::v_row_bytes(t, hd));
    kernels::store_v(t, hd, f.data(), row.data());
    type_info(t).to_float(row.data(), back.data(), hd);
    for (int i = 0; i < hd; ++i) x[i] = back[size_t(i)];
  }
  // A probability as an F16 V cache multiplies it (rounded to F16, as llama.cpp without flash attention).
  double prob(double p) const {
    if (!cache_ || cache_->v != TypeId::F16) return p;
    return fp16_to_f32(f32_to_fp16(float(p)));
  }
  // The query as the K type's dot reads it: rounded to F16, or quantized to Q8_0.
  void as_query(TypeId k_type, double* x) const {
    const int hd = c_.head_dim;
    std::vector<float> f(x, x + hd), back(size_t(hd), 0.0f);
    const TypeId qt = k_type == TypeId::F16 ? TypeId::F16 : TypeId::Q8_0;
    std::vector<uint8_t> row(row_size(qt, hd));
    kernels::convert_activations(qt, f.data(), row.data(), hd);
    type_info(qt).to_float(row.data(), back.data(), hd);
    for (int i = 0; i < hd; ++i) x[i] = back[size_t(i)];
  }

  static std::vector<double> row(const Tensor& t, int64_t r) {
    std::vector<float> f(size_t(t.ne[0]));
    type_info(t.type).to_float(t.row(r), f.data(), t.ne[0]);
    return std::vector<double>(f.begin(), f.end());
  }
  static std::vector<double> matvec(const Tensor& w, const std::vector<double>& x) {
    std::vector<double> y(size_t(w.ne[1]));
    for (int64_t r = 0; r < w.ne[1]; ++r) {
      const std::vector<double> wr = row(w, r);
      double s = 0;
      for (size_t i = 0; i < wr.size(); ++i) s += wr[i] * x[i];
      y[size_t(r)] = s;
    }
    return y;
  }
  static void add(std::vector<double>& a, const std::vector<double>& b) {
    for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  }
  static void add(std::vector<double>& a, const Tensor& b) { add(a, row(b, 0)); }
  std::vector<double> rms(const std::vector<double>& x, const Tensor& w) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / double(x.size()) + double(c_.norm_eps));
    std::vector<double> wr = row(w, 0), y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * wr[i];
    return y;
  }
  void rope(double* x, int pos) const {
    const int n = c_.rope.n_rot, half = n / 2;
    for (int k = 0; k < half; ++k) {
      const double theta = pos * std::pow(double(c_.rope.freq_base), -2.0 * k / n);
      const double cs = std::cos(theta), sn = std::sin(theta);
      const int a = c_.rope.layout == RopeLayout::Norm ? 2 * k : k;
      const int b = c_.rope.layout == RopeLayout::Norm ? 2 * k + 1 : k + half;
      const double x0 = x[a], x1 = x[b];
      x[a] = x0 * cs - x1 * sn;
      x[b] = x0 * sn + x1 * cs;
    }
  }

  const Model& m_;
  const ModelConfig& c_;
  std::optional<KvCacheType> cache_;
  std::vector<std::vector<std::vector<double>>> k_, v_;  // [layer][pos][kv_dim]
};

}  // namespace qinfer::test
