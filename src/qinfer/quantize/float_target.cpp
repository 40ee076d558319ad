#include "qinfer/quantize/float_target.h"

#include <algorithm>
#include <cmath>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/quantize/spd.h"

namespace qinfer {

namespace {

// vᵀ·M·u for an n × n row-major M.
double quadratic_form(const std::vector<double>& m, const double* v, const double* u, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* mi = &m[size_t(i * n)];
    double a = 0;
    for (int64_t j = 0; j < n; ++j) a += mi[j] * u[j];
    s += v[i] * a;
  }
  return s;
}

}  // namespace

bool fit_to_float_output(float* w, int64_t rows, int64_t n, const std::vector<double>& h,
                         const std::vector<double>& cross, const std::vector<double>& h_float, double damp,
                         ThreadPool& pool) {
  if (h.size() != size_t(n * n) || cross.size() != size_t(n * n) || (!h_float.empty() && h_float.size() != h.size()))
    throw Error("float target: input statistics of the wrong size");
  std::vector<double> l(h);
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += l[size_t(i * n + i)];
  mean_diag = std::max(mean_diag / double(n), 1e-30);
  // A column whose input was always zero gets a unit diagonal, as in GPTQ.
  for (int64_t i = 0; i < n; ++i) l[size_t(i * n + i)] += damp * mean_diag + (h[size_t(i * n + i)] == 0 ? 1 : 0);
  if (!cholesky_lower(l, n)) return false;
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<double> b(static_cast<size_t>(n)), orig(static_cast<size_t>(n)), fit(static_cast<size_t>(n));
    for (int64_t r = r0; r < r1; ++r) {
      float* wr = w + r * n;
      std::fill(b.begin(), b.end(), 0.0);
      for (int64_t i = 0; i < n; ++i) {  // b = Δᵀ·w
        const double wi = wr[i];
        orig[size_t(i)] = wi;
        if (wi == 0) continue;
        const double* ci = &cross[size_t(i * n)];
        for (int64_t j = 0; j < n; ++j) b[size_t(j)] += wi * ci[j];
      }
      cholesky_solve(l, n, b.data());  // z = (L·Lᵀ)⁻¹·b
      for (int64_t i = 0; i < n; ++i) fit[size_t(i)] = orig[size_t(i)] + b[size_t(i)];
      double k = 1;
      if (!h_float.empty()) {
        const double e_float = quadratic_form(h_float, orig.data(), orig.data(), n);
        const double e_fit = quadratic_form(h, fit.data(), fit.data(), n);
        if (e_float > 0 && e_fit > 0 && std::isfinite(e_float / e_fit)) k = std::sqrt(e_float / e_fit);
      }
      for (int64_t i = 0; i < n; ++i) wr[i] = float(k * fit[size_t(i)]);
    }
  });
  return true;
}

}  // namespace qinfer
