#include "qinfer/core/stats.h"

#include <algorithm>
#include <cmath>

namespace qinfer {

double mean(std::span<const double> v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

namespace {
double sum_of_squared_deviations(std::span<const double> v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s;
}
}  // namespace

double sample_stddev(std::span<const double> v) {
  if (v.size() < 2) return 0;
  return std::sqrt(sum_of_squared_deviations(v) / double(v.size() - 1));
}

double population_stddev(std::span<const double> v) {
  if (v.empty()) return 0;
  return std::sqrt(sum_of_squared_deviations(v) / double(v.size()));
}

double percentile_of_sorted(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  const double h = double(sorted.size() - 1) * std::clamp(p, 0.0, 100.0) / 100.0;
  const size_t lo = size_t(h);
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double t = h - double(lo);
  return sorted[lo] + t * (sorted[lo + 1] - sorted[lo]);
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return percentile_of_sorted(v, p);
}

double standard_error(double sum, double sum2, int64_t n) {
  if (n < 2) return 0;
  const double m = sum / double(n);
  const double var = sum2 / double(n) - m * m;
  return var > 0 ? std::sqrt(var / double(n - 1)) : 0;
}

}  // namespace qinfer
