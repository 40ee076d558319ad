#include "qinfer/quantize/refit.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/quant/code_grid.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/spd.h"

namespace qinfer {

namespace {

template <typename T>
double dot(const double* a, const T* b, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += a[k] * double(b[k]);
    s1 += a[k + 1] * double(b[k + 1]);
    s2 += a[k + 2] * double(b[k + 2]);
    s3 += a[k + 3] * double(b[k + 3]);
  }
  for (; k < n; ++k) s0 += a[k] * double(b[k]);
  return (s0 + s1) + (s2 + s3);
}

// eᵀ·H·e for a full symmetric H (n × n).
double quad(const std::vector<double>& h, const double* e, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i)
    if (e[i] != 0.0) s += e[i] * dot(&h[size_t(i * n)], e, n);
  return s;
}

const CodeGrid& grid_of(TypeId type) {
  const CodeGrid* g = find_code_grid(type);
  if (!g || g->n_params <= 0 || !g->set_params)
    throw Error(std::string("refit: ") + type_info(type).name + " has no code grid with block parameters");
  return *g;
}

// w − dequantize(q) for one row, in float64.
void row_error(const TypeInfo& info, const uint8_t* q, const float* w, int64_t n, float* deq, double* e) {
  info.to_float(q, deq, n);
  for (int64_t j = 0; j < n; ++j) e[j] = double(w[j]) - double(deq[j]);
}

}  // namespace

double quantized_output_loss(TypeId type, const uint8_t* q, int64_t rows, int64_t cols, const float* w,
                             const std::vector<double>& h, ThreadPool& pool) {
  const TypeInfo& info = type_info(type);
  const size_t rb = row_size(type, cols);
  std::vector<double> part(size_t(pool.size()), 0.0);
  pool.run([&](int ith, int nth) {
    std::vector<float> deq(static_cast<size_t>(cols));
    std::vector<double> e(static_cast<size_t>(cols));
    for (int64_t r = rows * ith / nth; r < rows * (ith + 1) / nth; ++r) {
      row_error(info, q + size_t(r) * rb, w + r * cols, cols, deq.data(), e.data());
      part[size_t(ith)] += quad(h, e.data(), cols);
    }
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

RefitStats refit_block_params(TypeId type, uint8_t* q, int64_t rows, int64_t cols, const float* w,
                              const std::vector<double>& h, double damp, bool keep_energy, ThreadPool& pool) {
  const CodeGrid& grid = grid_of(type);
  const TypeInfo& info = type_info(type);
  const int64_t n = cols, bs = info.block_size, np = grid.n_params;
  if (n % bs != 0) throw Error("refit: rows of " + std::to_string(n) + " are not whole blocks of " + info.name);
  if (int64_t(h.size()) != n * n) throw Error("refit: Hessian of the wrong size");
  const int64_t nb = n / bs, P = nb * np;
  const size_t rb = row_size(type, cols), bb = info.type_size;

  std::vector<double> hd = h;
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += hd[size_t(i * n + i)];
  mean /= double(n);
  for (int64_t i = 0; i < n; ++i) hd[size_t(i * n + i)] += damp * mean;
  // A diagonal H (the token embedding's identity: no activations to weigh)
  // couples no two elements, so the normal equations are built from its
  // diagonal alone: O(cols) per row instead of O(cols²) (TinyLlama's 32000 ×
  // 2048 embedding: minutes -> seconds). The same products in the same order.
  bool diagonal = true;
  for (int64_t i = 0; i < n && diagonal; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j && hd[size_t(i * n + j)] != 0.0) {
        diagonal = false;
        break;
      }

  std::vector<double> before(size_t(pool.size()), 0.0), after(size_t(pool.size()), 0.0);
  std::vector<int64_t> kept(size_t(pool.size()), 0);
  pool.run([&](int ith, int nth) {
    std::vector<float> basis(size_t(P * bs)), pf(static_cast<size_t>(np));  // basis[(b·np + p)·bs + k]
    std::vector<double> hw(static_cast<size_t>(n)), t(size_t(n * P)), m(size_t(P * P)), m0(size_t(P * P)),
        rhs(static_cast<size_t>(P)), theta(static_cast<size_t>(P)), old(static_cast<size_t>(P)), got(static_cast<size_t>(P));
    std::vector<uint8_t> backup(rb);
    // The row's error for parameters th: (w − A·th)ᵀ·H·(w − A·th) = wᵀHw − 2·thᵀ·AᵀHw + thᵀ·AᵀHA·th.
    double ww = 0;
    const auto loss = [&](const std::vector<double>& th) {
      double l = ww;
      for (int64_t i = 0; i < P; ++i) l += th[size_t(i)] * (dot(&m0[size_t(i * P)], th.data(), P) - 2 * rhs[size_t(i)]);
      return l;
    };
    const auto read_params = [&](const uint8_t* qr, std::vector<double>& th) {
      for (int64_t b = 0; b < nb; ++b) {
        grid.get_params(qr + size_t(b) * bb, pf.data());
        for (int64_t p = 0; p < np; ++p) th[size_t(b * np + p)] = pf[size_t(p)];
      }
    };
    for (int64_t r = rows * ith / nth; r < rows * (ith + 1) / nth; ++r) {
      uint8_t* qr = q + size_t(r) * rb;
      const float* wr = w + r * n;
      for (int64_t b = 0; b < nb; ++b) read_param_basis(grid, qr + size_t(b) * bb, &basis[size_t(b * np * bs)]);
      read_params(qr, old);
      if (diagonal) {
        for (int64_t i = 0; i < n; ++i) hw[size_t(i)] = hd[size_t(i * n + i)] * double(wr[i]);
      } else {
        // T = H·A (A: n × P, column (b, p) is the basis of parameter p of block b), and H·w.
        for (int64_t i = 0; i < n; ++i) {
          const double* hi = &hd[size_t(i * n)];
          double* ti = &t[size_t(i * P)];
          for (int64_t b = 0; b < nb; ++b)
            for (int64_t p = 0; p < np; ++p) ti[b * np + p] = dot(hi + b * bs, &basis[size_t((b * np + p) * bs)], bs);
          hw[size_t(i)] = dot(hi, wr, n);
        }
      }
      ww = 0;
      for (int64_t i = 0; i < n; ++i) ww += double(wr[i]) * hw[size_t(i)];
      // Normal equations (Aᵀ·H·A)·θ = Aᵀ·H·w; with a diagonal H only a block's own parameters meet.
      for (int64_t b = 0; b < nb; ++b)
        for (int64_t p = 0; p < np; ++p) {
          const int64_t r1 = b * np + p;
          const float* a = &basis[size_t(r1 * bs)];
          double* mr = &m[size_t(r1 * P)];
          std::fill(mr, mr + P, 0.0);
          double s = 0;
          for (int64_t k = 0; k < bs; ++k) {
            if (a[k] == 0.0f) continue;
            const double ak = a[k];
            if (diagonal) {  // T's row b·bs + k: H's diagonal entry times the block's basis, zero elsewhere
              const double hk = hd[size_t((b * bs + k) * n + b * bs + k)];
              for (int64_t c = 0; c < np; ++c) mr[b * np + c] += ak * (hk * double(basis[size_t((b * np + c) * bs + k)]));
            } else {
              const double* tk = &t[size_t((b * bs + k) * P)];
              for (int64_t c = 0; c < P; ++c) mr[c] += ak * tk[c];
            }
            s += ak * hw[size_t(b * bs + k)];
          }
          rhs[size_t(r1)] = s;
        }
      m0 = m;
      const double lb = loss(old);
      before[size_t(ith)] += lb;
      // A parameter no element depends on (a block of zero codes) is pinned
      // to 0; a tiny ridge keeps nearly collinear ones (d and m of a block
      // whose codes are all equal) solvable.
      double tr = 0;
      for (int64_t c = 0; c < P; ++c) tr += m[size_t(c * P + c)];
      const double ridge = 1e-12 * (tr > 0 ? tr / double(P) : 1.0);
      std::vector<double> b_rhs = rhs;
      for (int64_t c = 0; c < P; ++c) {
        double& d = m[size_t(c * P + c)];
        if (d <= 0) {
          for (int64_t k = 0; k < P; ++k) m[size_t(c * P + k)] = m[size_t(k * P + c)] = 0;
          d = 1;
          b_rhs[size_t(c)] = 0;
        } else {
          d += ridge;
        }
      }
      bool ok = cholesky_lower(m, P);
      if (ok) {
        for (int64_t i = 0; i < P; ++i) {  // L·y = rhs
          double s = b_rhs[size_t(i)];
          for (int64_t k = 0; k < i; ++k) s -= m[size_t(i * P + k)] * theta[size_t(k)];
          theta[size_t(i)] = s / m[size_t(i * P + i)];
        }
        for (int64_t i = P - 1; i >= 0; --i) {  // Lᵀ·θ = y
          double s = theta[size_t(i)];
          for (int64_t k = i + 1; k < P; ++k) s -= m[size_t(k * P + i)] * theta[size_t(k)];
          theta[size_t(i)] = s / m[size_t(i * P + i)];
          ok &= std::isfinite(theta[size_t(i)]) && std::fabs(theta[size_t(i)]) < 60000.0;  // fp16's range
        }
      }
      if (ok && keep_energy) {
        // ŵ = A·θ has output energy θᵀ·M·θ; rescaled to wᵀ·H·w.
        double fit = 0;
        for (int64_t i = 0; i < P; ++i) fit += theta[size_t(i)] * dot(&m0[size_t(i * P)], theta.data(), P);
        if (fit > 0 && ww > 0) {
          const double c = std::sqrt(ww / fit);
          for (double& v : theta) v *= c;
          for (double v : theta) ok &= std::fabs(v) < 60000.0;
        }
      }
      double la = lb;
      if (ok) {
        std::memcpy(backup.data(), qr, rb);
        for (int64_t b = 0; b < nb; ++b) {
          for (int64_t p = 0; p < np; ++p) pf[size_t(p)] = float(theta[size_t(b * np + p)]);
          grid.set_params(qr + size_t(b) * bb, pf.data());
        }
        read_params(qr, got);  // as stored (fp16)
        la = loss(got);
        // The energy-matched fit may cost a little of the loss; a row is kept only when it fails.
        if (!(keep_energy ? std::isfinite(la) : la < lb)) {
          std::memcpy(qr, backup.data(), rb);
          la = lb;
          ok = false;
        }
      }
      kept[size_t(ith)] += !ok;
      after[size_t(ith)] += la;
    }
  });
  RefitStats st;
  for (int i = 0; i < pool.size(); ++i) {
    st.loss_before += before[size_t(i)];
    st.loss_after += after[size_t(i)];
    st.rows_kept += kept[size_t(i)];
  }
  return st;
}

}  // namespace qinfer
