#include "qinfer/quantize/spd.h"

#include <cmath>

namespace qinfer {

namespace {

double dot(const double* a, const double* b, int64_t n) {
  double s0 = 0, s1 = 0;
  int64_t k = 0;
  for (; k + 1 < n; k += 2) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
  }
  if (k < n) s0 += a[k] * b[k];
  return s0 + s1;
}

}  // namespace

bool cholesky_lower(std::vector<double>& a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double* ri = &a[size_t(i * n)];
    for (int64_t j = 0; j < i; ++j) {
      const double* rj = &a[size_t(j * n)];
      ri[j] = (ri[j] - dot(ri, rj, j)) / rj[j];
    }
    const double d = ri[i] - dot(ri, ri, i);
    if (!(d > 0) || !std::isfinite(d)) return false;
    ri[i] = std::sqrt(d);
    for (int64_t j = i + 1; j < n; ++j) ri[j] = 0;
  }
  return true;
}

void cholesky_solve(const std::vector<double>& l, int64_t n, double* x) {
  for (int64_t i = 0; i < n; ++i) {  // L·y = b
    double v = x[i];
    for (int64_t k = 0; k < i; ++k) v -= l[size_t(i * n + k)] * x[k];
    x[i] = v / l[size_t(i * n + i)];
  }
  for (int64_t i = n - 1; i >= 0; --i) {  // Lᵀ·x = y
    double v = x[i];
    for (int64_t k = i + 1; k < n; ++k) v -= l[size_t(k * n + i)] * x[k];
    x[i] = v / l[size_t(i * n + i)];
  }
}

bool inverse_cholesky_upper(const std::vector<double>& h, int64_t n, std::vector<double>& u) {
  // Reversed copy: a[i][j] = h[n-1-i][n-1-j].
  std::vector<double> a(size_t(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a[size_t(i * n + j)] = h[size_t((n - 1 - i) * n + (n - 1 - j))];
  if (!cholesky_lower(a, n)) return false;
  // M = L'⁻¹ (lower) by forward substitution of L'·M = I, row by row:
  // M[i] = (e_i − Σ_{k<i} L'[i][k]·M[k]) / L'[i][i]; row k of M is zero past k.
  std::vector<double> m(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double* mi = &m[size_t(i * n)];
    const double* li = &a[size_t(i * n)];
    for (int64_t k = 0; k < i; ++k) {
      const double c = li[k];
      if (c == 0) continue;
      const double* mk = &m[size_t(k * n)];
      for (int64_t j = 0; j <= k; ++j) mi[j] -= c * mk[j];
    }
    mi[i] += 1.0;
    const double inv = 1.0 / li[i];
    for (int64_t j = 0; j <= i; ++j) mi[j] *= inv;
  }
  u.assign(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) u[size_t(i * n + j)] = m[size_t((n - 1 - i) * n + (n - 1 - j))];
  return true;
}

}  // namespace qinfer
