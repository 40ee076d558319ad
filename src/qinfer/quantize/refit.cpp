#include "qinfer/quantize/refit.h"

#include <algorithm>
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
  // Rows share each pass over H: its rows (cols² doubles, 32 MB for a
  // 2048-wide layer, 254 MB for ffn_down) stream from memory once per chunk
  // of rows instead of once per row, and T = H·A is folded into the normal
  // equations one row of H at a time instead of being kept (cols × P).
  constexpr int64_t kChunk = 8;
  pool.run([&](int ith, int nth) {
    const int64_t r_begin = rows * ith / nth, r_end = rows * (ith + 1) / nth;
    // basis[(rr·P + b·np + p)·bs + k]: chunk row rr's basis of parameter p of block b.
    std::vector<float> basis(size_t(kChunk * P * bs)), pf(static_cast<size_t>(np));
    std::vector<double> hw(size_t(kChunk * n)), ti(static_cast<size_t>(P)), mc(size_t(kChunk * P * P)),
        rc(size_t(kChunk * P)), m(size_t(P * P)), m0(size_t(P * P)), rhs(static_cast<size_t>(P)),
        theta(static_cast<size_t>(P)), old(static_cast<size_t>(P)), got(static_cast<size_t>(P));
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
    for (int64_t c0 = r_begin; c0 < r_end; c0 += kChunk) {
      const int64_t nr = std::min(kChunk, r_end - c0);
      for (int64_t rr = 0; rr < nr; ++rr)
        for (int64_t b = 0; b < nb; ++b)
          read_param_basis(grid, q + size_t(c0 + rr) * rb + size_t(b) * bb, &basis[size_t((rr * P + b * np) * bs)]);
      std::fill(mc.begin(), mc.end(), 0.0);
      std::fill(rc.begin(), rc.end(), 0.0);
      // Normal equations (Aᵀ·H·A)·θ = Aᵀ·H·w (A: cols × P, column (b, p) the
      // basis of parameter p of block b), built element by element: element i
      // (k = i mod bs of block b) adds a_(b,p)[k] times row i of T = H·A and of
      // H·w. Each sum takes its terms in the order of k, as a whole T would.
      for (int64_t i = 0; i < n; ++i) {
        const int64_t b = i / bs, k = i % bs;
        const double* hi = &hd[size_t(i * n)];
        const double hii = hi[i];
        for (int64_t rr = 0; rr < nr; ++rr) {
          const float* bas = &basis[size_t(rr * P * bs)];
          const float* wr = w + (c0 + rr) * n;
          double& hwi = hw[size_t(rr * n + i)];
          if (diagonal) {
            hwi = hii * double(wr[i]);
          } else {
            for (int64_t b2 = 0; b2 < nb; ++b2)
              for (int64_t p = 0; p < np; ++p)
                ti[size_t(b2 * np + p)] = dot(hi + b2 * bs, &bas[size_t((b2 * np + p) * bs)], bs);
            hwi = dot(hi, wr, n);
          }
          for (int64_t p = 0; p < np; ++p) {
            const int64_t r1 = b * np + p;
            const float a = bas[size_t(r1 * bs + k)];
            if (a == 0.0f) continue;
            const double ak = a;
            double* mr = &mc[size_t((rr * P + r1) * P)];
            if (diagonal)  // T's row i: H's diagonal entry times the block's basis, zero elsewhere
              for (int64_t c = 0; c < np; ++c)
                mr[b * np + c] += ak * (hii * double(bas[size_t((b * np + c) * bs + k)]));
            else
              for (int64_t c = 0; c < P; ++c) mr[c] += ak * ti[size_t(c)];
            rc[size_t(rr * P + r1)] += ak * hwi;
          }
        }
      }
      for (int64_t rr = 0; rr < nr; ++rr) {
        const int64_t r = c0 + rr;
        uint8_t* qr = q + size_t(r) * rb;
        const float* wr = w + r * n;
        read_params(qr, old);
        ww = 0;
        for (int64_t i = 0; i < n; ++i) ww += double(wr[i]) * hw[size_t(rr * n + i)];
        std::copy(mc.begin() + rr * P * P, mc.begin() + (rr + 1) * P * P, m.begin());
        std::copy(rc.begin() + rr * P, rc.begin() + (rr + 1) * P, rhs.begin());
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
          theta = b_rhs;
          cholesky_solve(m, P, theta.data());
          for (double v : theta) ok &= std::isfinite(v) && std::fabs(v) < 60000.0;  // fp16's range
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
