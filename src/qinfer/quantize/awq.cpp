#include "qinfer/quantize/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/gptq.h"

namespace qinfer {

namespace {

// δᵀ·H·δ for one row (H full symmetric, n × n).
double quad_form(const std::vector<double>& h, const double* d, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (d[i] == 0.0) continue;
    const double* hi = &h[size_t(i * n)];
    double t = 0;
    for (int64_t j = 0; j < n; ++j) t += hi[j] * d[j];
    s += d[i] * t;
  }
  return s;
}

// Σ over rows of the output error of quantizing W·diag(s) and scaling back.
// The rounding uses importance weights E[(x/s)²] = diag(H)/s² when asked.
double scaled_loss(const AwqWeight& wt, int64_t cols, const std::vector<double>& h, const float* s, bool importance,
                   ThreadPool& pool) {
  std::vector<double> part(size_t(pool.size()), 0.0);
  pool.run([&](int ith, int nth) {
    const int64_t r0 = wt.rows * ith / nth, r1 = wt.rows * (ith + 1) / nth;
    if (r0 >= r1) return;
    std::vector<float> row(static_cast<size_t>(cols)), deq(static_cast<size_t>(cols));
    std::vector<double> d(static_cast<size_t>(cols));
    std::vector<float> imp(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j) imp[size_t(j)] = float(h[size_t(j * cols + j)] / (s ? double(s[j]) * s[j] : 1.0));
    double sum = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const float* w = wt.w + r * cols;
      for (int64_t j = 0; j < cols; ++j) row[size_t(j)] = s ? w[j] * s[j] : w[j];
      awq_round_row(wt, r, row.data(), deq.data(), cols, importance ? imp.data() : nullptr);
      for (int64_t j = 0; j < cols; ++j) d[size_t(j)] = double(s ? deq[size_t(j)] / s[j] : deq[size_t(j)]) - double(w[j]);
      sum += quad_form(h, d.data(), cols);
    }
    part[size_t(ith)] = sum;
  });
  double total = 0;
  for (double v : part) total += v;
  return total;
}

}  // namespace

void awq_round_row(const AwqWeight& wt, int64_t row, const float* w, float* out, int64_t cols, const float* imp) {
  if (wt.rounder) {
    GroupRounder& r = *wt.rounder;
    const int64_t G = r.group_size();
    const int max_code = r.max_code();
    std::vector<ElementGrid> grids(static_cast<size_t>(G));
    for (int64_t g = 0; g < cols / G; ++g) {
      r.fix_group(row, g, w + g * G, imp ? imp + g * G : nullptr, grids.data());
      for (int64_t k = 0; k < G; ++k) {
        const int code = nearest_code(grids[size_t(k)], max_code, w[g * G + k]);
        r.set_code(row, g * G + k, code);
        out[g * G + k] = code_value(grids[size_t(k)], code);
      }
    }
    return;
  }
  const TypeInfo& info = type_info(wt.type);
  std::vector<uint8_t> q(row_size(wt.type, cols));
  info.quantize(w, q.data(), 1, cols, imp);
  info.to_float(q.data(), out, cols);
}

double awq_quantization_loss(const AwqWeight& weight, int64_t cols, const std::vector<double>& xxt, bool importance,
                             ThreadPool& pool) {
  return scaled_loss(weight, cols, xxt, nullptr, importance, pool);
}

AwqScales awq_search_scales(const std::vector<AwqWeight>& weights, int64_t cols, const std::vector<double>& xxt,
                            const std::vector<double>& mean_abs, int n_grid, bool duo, bool importance,
                            ThreadPool& pool, const std::vector<int64_t>* tie) {
  if (n_grid < 1) throw InputError("AWQ: the scale grid needs at least one point");
  // Per scale group: the mean activation magnitude of its columns.
  std::vector<int64_t> group(static_cast<size_t>(cols));
  int64_t n_groups = cols;
  if (tie) {
    group = *tie;
    n_groups = 1 + *std::max_element(group.begin(), group.end());
  } else {
    for (int64_t j = 0; j < cols; ++j) group[size_t(j)] = j;
  }
  // Per column: the mean over every row of every weight of |w| / (its block's max |w|).
  std::vector<double> wm(static_cast<size_t>(cols), 0.0);
  int64_t total_rows = 0;
  for (const AwqWeight& w : weights) {
    const int64_t bs = std::max<int64_t>(1, type_info(w.type).block_size);
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t b0 = 0; b0 < cols; b0 += bs) {
        const int64_t b1 = std::min(cols, b0 + bs);
        float amax = 0;
        for (int64_t j = b0; j < b1; ++j) amax = std::max(amax, std::fabs(w.w[r * cols + j]));
        for (int64_t j = b0; j < b1; ++j) wm[size_t(j)] += std::fabs(w.w[r * cols + j]) / (double(amax) + 1e-6);
      }
    total_rows += w.rows;
  }
  std::vector<double> m(size_t(n_groups), 0.0), mw(size_t(n_groups), 0.0), count(size_t(n_groups), 0.0);
  for (int64_t j = 0; j < cols; ++j) {
    m[size_t(group[size_t(j)])] += mean_abs[size_t(j)];
    mw[size_t(group[size_t(j)])] += wm[size_t(j)] / double(std::max<int64_t>(total_rows, 1));
    count[size_t(group[size_t(j)])] += 1;
  }
  for (int64_t g = 0; g < n_groups; ++g) {
    m[size_t(g)] = count[size_t(g)] > 0 ? m[size_t(g)] / count[size_t(g)] : 0;
    mw[size_t(g)] = count[size_t(g)] > 0 ? mw[size_t(g)] / count[size_t(g)] : 0;
  }

  AwqScales best;
  best.loss = std::numeric_limits<double>::infinity();
  std::vector<float> s(static_cast<size_t>(cols)), sg(static_cast<size_t>(n_groups));
  for (int k = 0; k < n_grid; ++k) {
    const double alpha = double(k) / double(n_grid);
    // AutoAWQ: s = max(s_x, 1e-4)^α, normalised by sqrt(max·min).
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (int64_t g = 0; g < n_groups; ++g) {
      const double v = duo ? std::max(std::pow(m[size_t(g)], alpha) / (std::pow(mw[size_t(g)], 1 - alpha) + 1e-4), 1e-4)
                           : std::pow(std::max(m[size_t(g)], 1e-4), alpha);
      sg[size_t(g)] = float(v);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const double norm = std::sqrt(lo * hi);
    for (int64_t g = 0; g < n_groups; ++g) sg[size_t(g)] = float(double(sg[size_t(g)]) / norm);
    for (int64_t j = 0; j < cols; ++j) s[size_t(j)] = sg[size_t(group[size_t(j)])];
    double loss = 0;
    for (const AwqWeight& w : weights) loss += scaled_loss(w, cols, xxt, s.data(), importance, pool);
    if (k == 0) best.loss_plain = loss;
    if (loss < best.loss) {
      best.loss = loss;
      best.alpha = alpha;
      best.scale = s;
    }
  }
  return best;
}

void scale_columns(float* w, int64_t rows, int64_t cols, const float* s) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w[r * cols + j] *= s[j];
}

void divide_rows(float* w, int64_t rows, int64_t cols, const float* s) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w[r * cols + j] /= s[r];
}

void rescale_input_stats(std::vector<double>& xxt, std::vector<double>& mean_abs, const float* s) {
  const int64_t n = int64_t(mean_abs.size());
  for (int64_t i = 0; i < n; ++i) {
    mean_abs[size_t(i)] /= s[i];
    for (int64_t j = 0; j < n; ++j) xxt[size_t(i * n + j)] /= double(s[i]) * double(s[j]);
  }
}

double awq_clip(const AwqWeight& weight, int64_t cols, const std::vector<double>& xxt, int n_grid, double max_shrink,
                bool importance, ThreadPool& pool) {
  const TypeInfo& info = type_info(weight.type);
  float* w = weight.w;
  const int64_t rows = weight.rows;
  const int64_t bs = weight.rounder ? weight.rounder->group_size() : info.block_size;
  if (!weight.rounder && (!info.quantized || !info.quantize || info.row_header)) return 0;
  if (bs <= 1 || cols % bs != 0) return 0;
  const int n_try = std::max(1, int(max_shrink * n_grid));
  std::vector<double> before(size_t(pool.size()), 0.0), after(size_t(pool.size()), 0.0);
  pool.run([&](int ith, int nth) {
    const int64_t r0 = rows * ith / nth, r1 = rows * (ith + 1) / nth;
    std::vector<float> orig(static_cast<size_t>(bs)), clipped(static_cast<size_t>(bs)), best(static_cast<size_t>(bs)), deq(static_cast<size_t>(bs));
    std::vector<double> d(static_cast<size_t>(bs)), hb(size_t(bs * bs));
    std::vector<ElementGrid> grids(static_cast<size_t>(bs));
    std::vector<uint8_t> q(info.type_size);
    // One block of the row rounded and back (a rounder's group is its block here).
    const auto round_block = [&](int64_t r, int64_t b, const float* x, const float* imp, float* out) {
      if (!weight.rounder) {
        info.quantize(x, q.data(), 1, bs, imp);
        info.to_float(q.data(), out, bs);
        return;
      }
      weight.rounder->fix_group(r, b, x, imp, grids.data());
      for (int64_t j = 0; j < bs; ++j)
        out[j] = code_value(grids[size_t(j)], nearest_code(grids[size_t(j)], weight.rounder->max_code(), x[j]));
    };
    for (int64_t b = 0; b < cols / bs; ++b) {
      // The block's own part of H: the clipping search treats blocks independently, as AutoAWQ's groups.
      for (int64_t i = 0; i < bs; ++i)
        for (int64_t j = 0; j < bs; ++j) hb[size_t(i * bs + j)] = xxt[size_t((b * bs + i) * cols + b * bs + j)];
      for (int64_t r = r0; r < r1; ++r) {
        float* wb = w + r * cols + b * bs;
        float amax = 0;
        for (int64_t j = 0; j < bs; ++j) {
          orig[size_t(j)] = wb[j];
          amax = std::max(amax, std::fabs(wb[j]));
        }
        double best_loss = std::numeric_limits<double>::infinity(), first = 0;
        std::vector<float> bimp(static_cast<size_t>(bs));
        for (int64_t j = 0; j < bs; ++j) bimp[size_t(j)] = float(hb[size_t(j * bs + j)]);
        for (int k = 0; k < n_try; ++k) {
          const float lim = amax * float(1.0 - double(k) / double(n_grid));
          for (int64_t j = 0; j < bs; ++j) clipped[size_t(j)] = std::clamp(orig[size_t(j)], -lim, lim);
          round_block(r, b, clipped.data(), importance ? bimp.data() : nullptr, deq.data());
          for (int64_t j = 0; j < bs; ++j) d[size_t(j)] = double(deq[size_t(j)]) - double(orig[size_t(j)]);
          const double loss = quad_form(hb, d.data(), bs);
          if (k == 0) first = loss;
          if (loss < best_loss) {
            best_loss = loss;
            best = clipped;
          }
        }
        before[size_t(ith)] += first;
        after[size_t(ith)] += best_loss;
        std::copy(best.begin(), best.end(), wb);
      }
    }
  });
  double b0 = 0, a0 = 0;
  for (int i = 0; i < pool.size(); ++i) b0 += before[size_t(i)], a0 += after[size_t(i)];
  return b0 > 0 ? 100.0 * (b0 - a0) / b0 : 0.0;
}

}  // namespace qinfer
