#include "qinfer/quantize/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "qinfer/core/error.h"
#include "qinfer/core/thread_pool.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/quantize/spd.h"

namespace qinfer {

namespace {

std::string label(const GptqOptions& o) { return o.name.empty() ? std::string("GPTQ") : o.name; }

// Scores one group's candidate grids: GPTQ run over the group's own columns
// alone (in processing order, feedback through U restricted to them), the
// loss Σ e² it adds. Columns of other groups processed in between (act-order)
// are left out: an estimate to rank candidates, not GPTQ itself.
class GroupSearch {
 public:
  explicit GroupSearch(int64_t g) : G_(g), order_(size_t(g)), ug_(size_t(g * g)), v_(size_t(g)) {}

  void prepare(int64_t group, const std::vector<int64_t>& pos_of, const std::vector<double>& u, int64_t n) {
    std::iota(order_.begin(), order_.end(), 0);
    std::sort(order_.begin(), order_.end(), [&](int64_t a, int64_t b) {
      return pos_of[size_t(group * G_ + a)] < pos_of[size_t(group * G_ + b)];
    });
    for (int64_t a = 0; a < G_; ++a)
      for (int64_t b = 0; b < G_; ++b)
        ug_[size_t(a * G_ + b)] = float(u[size_t(pos_of[size_t(group * G_ + order_[size_t(a)])] * n +
                                                  pos_of[size_t(group * G_ + order_[size_t(b)])])]);
  }

  // w and grids in the group's column order.
  double loss(const float* w, const ElementGrid* grids, int max_code) {
    for (int64_t a = 0; a < G_; ++a) v_[size_t(a)] = w[order_[size_t(a)]];
    double l = 0;
    for (int64_t a = 0; a < G_; ++a) {
      const ElementGrid& g = grids[order_[size_t(a)]];
      const float x = v_[size_t(a)];
      const float e = (x - code_value(g, nearest_code(g, max_code, x))) / ug_[size_t(a * G_ + a)];
      l += double(e) * double(e);
      const float* ua = &ug_[size_t(a * G_)];
      for (int64_t b = a + 1; b < G_; ++b) v_[size_t(b)] -= e * ua[b];
    }
    return l;
  }

 private:
  int64_t G_;
  std::vector<int64_t> order_;
  std::vector<float> ug_;
  std::vector<float> v_;
};

}  // namespace

GptqStats gptq_quantize(const float* W, int64_t rows, int64_t cols, std::vector<double> h, GroupRounder& rounder,
                        const GptqOptions& opt, ThreadPool& pool) {
  const int64_t n = cols;
  const int64_t G = rounder.group_size();
  if (G <= 0 || n % G != 0)
    throw InputError(label(opt) + ": " + std::to_string(n) + " columns are not a multiple of the group size " +
                     std::to_string(G));
  if (int64_t(h.size()) != n * n) throw Error(label(opt) + ": Hessian of the wrong size");
  for (double v : h)
    if (!std::isfinite(v))
      throw InputError(label(opt) + ": the Hessian of the calibration activations is not finite (NaN/Inf "
                                    "activations); no damping can fix that");
  GptqStats st;

  // Columns whose input was always zero carry no information: GPTQ sets them
  // to zero and gives them a unit diagonal so H stays invertible.
  std::vector<char> dead(size_t(n), 0);
  std::vector<float> importance(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c) {
    double& d = h[size_t(c * n + c)];
    importance[size_t(c)] = float(d);
    if (d == 0.0) {
      dead[size_t(c)] = 1;
      d = 1.0;
      ++st.dead_columns;
    }
  }

  // Processing order: act-order puts the columns with the largest inputs first.
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return h[size_t(a * n + a)] > h[size_t(b * n + b)]; });
  std::vector<int64_t> pos_of(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pos_of[size_t(perm[size_t(i)])] = i;

  std::vector<double> hp(size_t(n * n));
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) hp[size_t(i * n + j)] = h[size_t(perm[size_t(i)] * n + perm[size_t(j)])];
    mean_diag += hp[size_t(i * n + i)];
  }
  mean_diag /= double(n);
  h.clear();
  h.shrink_to_fit();

  // Damping, raised tenfold while H + λI is not positive definite.
  std::vector<double> u;
  double damp = opt.damp;
  for (;;) {
    std::vector<double> hd = hp;
    for (int64_t i = 0; i < n; ++i) hd[size_t(i * n + i)] += damp * mean_diag;
    if (inverse_cholesky_upper(hd, n, u)) break;
    if (damp >= 1.0 || damp <= 0.0)
      throw InputError(label(opt) + ": the Hessian is not positive definite " +
                       (damp <= 0.0 ? std::string("without damping (use a damping above 0)")
                                    : "even with damping " + std::to_string(damp) + " of its mean diagonal"));
    damp = std::min(1.0, damp * 10);
    ++st.damp_raises;
  }
  st.damp = damp;
  hp.clear();
  hp.shrink_to_fit();

  // Weights transposed into processing order: wt[i][r] = W[r][perm[i]].
  std::vector<float> wt(size_t(n * rows));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = perm[size_t(i)];
    float* dst = &wt[size_t(i * rows)];
    if (dead[size_t(c)])
      std::fill(dst, dst + rows, 0.0f);
    else
      for (int64_t r = 0; r < rows; ++r) dst[r] = W[size_t(r * n + c)];
  }

  // A group's parameters are fixed when its first column (in processing order) comes up.
  const int64_t n_groups = n / G;
  std::vector<int64_t> group_start(size_t(n_groups), n);
  for (int64_t c = 0; c < n; ++c) group_start[size_t(c / G)] = std::min(group_start[size_t(c / G)], pos_of[size_t(c)]);
  std::vector<char> group_at(size_t(n), 0);
  for (int64_t g = 0; g < n_groups; ++g) group_at[size_t(group_start[size_t(g)])] = 1;

  const int n_cand = std::max(1, opt.clip_candidates);
  if (n_cand > 1 && !(opt.clip_step > 0 && opt.clip_step * (n_cand - 1) < 1))
    throw InputError(label(opt) + ": clipping candidates must keep a positive range");
  const int64_t B = std::max<int64_t>(G, (std::max<int64_t>(opt.batch, 1) + G - 1) / G * G);
  const int max_code = rounder.max_code();
  std::vector<ElementGrid> grids(size_t(n * rows));  // [column][row], original column order
  std::vector<float> err(size_t(B * rows));          // [batch position][row]
  std::vector<double> losses(size_t(pool.size()), 0.0);

  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(i1 + B, n);
    pool.run([&](int ith, int nth) {
      const int64_t r0 = rows * ith / nth, r1 = rows * (ith + 1) / nth;
      if (r0 >= r1) return;
      std::vector<float> vals(static_cast<size_t>(G)), imp(static_cast<size_t>(G)), clipped(static_cast<size_t>(G));
      std::vector<ElementGrid> g_out(static_cast<size_t>(G));
      GroupSearch search(G);
      double loss = 0;
      for (int64_t i = i1; i < i2; ++i) {
        const int64_t c = perm[size_t(i)];
        if (group_at[size_t(i)]) {
          const int64_t g = c / G;
          bool any_importance = false;
          for (int64_t k = 0; k < G; ++k) {
            imp[size_t(k)] = importance[size_t(g * G + k)];
            any_importance |= imp[size_t(k)] > 0;
          }
          const float* imp_ptr = opt.importance && any_importance ? imp.data() : nullptr;
          if (n_cand > 1) search.prepare(g, pos_of, u, n);
          for (int64_t r = r0; r < r1; ++r) {
            // The group's current weights: columns past this batch still miss
            // the batch's pending updates, which are added here.
            for (int64_t k = 0; k < G; ++k) {
              const int64_t p = pos_of[size_t(g * G + k)];
              float v = wt[size_t(p * rows + r)];
              if (p >= i2)
                for (int64_t j = i1; j < i; ++j) v -= err[size_t((j - i1) * rows + r)] * float(u[size_t(j * n + p)]);
              vals[size_t(k)] = v;
            }
            if (n_cand > 1) {
              // Each clipping candidate's parameters, scored by the loss GPTQ
              // would add inside the group; the best one is fixed last.
              float amax = 0;
              for (float v : vals) amax = std::max(amax, std::fabs(v));
              double best = 0;
              int best_k = 0;
              for (int k = 0; k < n_cand; ++k) {
                const float lim = amax * float(1.0 - opt.clip_step * k);
                for (int64_t j = 0; j < G; ++j) clipped[size_t(j)] = std::clamp(vals[size_t(j)], -lim, lim);
                rounder.fix_group(r, g, clipped.data(), imp_ptr, g_out.data());
                const double l = search.loss(vals.data(), g_out.data(), max_code);
                if (k == 0 || l < best) best = l, best_k = k;
              }
              const float lim = amax * float(1.0 - opt.clip_step * best_k);
              for (int64_t j = 0; j < G; ++j) clipped[size_t(j)] = std::clamp(vals[size_t(j)], -lim, lim);
              rounder.fix_group(r, g, clipped.data(), imp_ptr, g_out.data());
            } else {
              rounder.fix_group(r, g, vals.data(), imp_ptr, g_out.data());
            }
            for (int64_t k = 0; k < G; ++k) grids[size_t((g * G + k) * rows + r)] = g_out[size_t(k)];
          }
        }
        const float d = float(u[size_t(i * n + i)]);
        float* wi = &wt[size_t(i * rows)];
        float* ei = &err[size_t((i - i1) * rows)];
        const ElementGrid* gi = &grids[size_t(c * rows)];
        for (int64_t r = r0; r < r1; ++r) {
          const int code = nearest_code(gi[r], max_code, wi[r]);
          rounder.set_code(r, c, code);
          const float q = code_value(gi[r], code);
          const float e = (wi[r] - q) / d;
          loss += double(e) * double(e) / 2;
          ei[r] = e;
          wi[r] = q;
        }
        for (int64_t p = i + 1; p < i2; ++p) {
          const float f = float(u[size_t(i * n + p)]);
          float* wp = &wt[size_t(p * rows)];
          for (int64_t r = r0; r < r1; ++r) wp[r] -= ei[r] * f;
        }
      }
      losses[size_t(ith)] += loss;
    });
    // Lazy update of the columns after this batch.
    if (i2 < n)
      pool.parallel_for(n - i2, [&](int64_t a, int64_t b) {
        for (int64_t p = i2 + a; p < i2 + b; ++p) {
          float* wp = &wt[size_t(p * rows)];
          for (int64_t j = i1; j < i2; ++j) {
            const float f = float(u[size_t(j * n + p)]);
            if (f == 0.0f) continue;
            const float* ej = &err[size_t((j - i1) * rows)];
            for (int64_t r = 0; r < rows; ++r) wp[r] -= ej[r] * f;
          }
        }
      });
  }
  for (double l : losses) st.loss += l;
  return st;
}

BlockTypeRounder::BlockTypeRounder(TypeId type, int64_t rows, int64_t cols, int64_t group)
    : type_(type), grid_(find_code_grid(type)), rows_(rows), cols_(cols), group_(group) {
  const TypeInfo& info = type_info(type);
  if (!grid_ || !info.quantize)
    throw InputError(std::string("GPTQ cannot round onto ") + info.name +
                     " (its values are not an integer code times a scale plus an offset)");
  block_ = info.block_size;
  if (group_ <= 0) group_ = block_;
  if (group_ % block_ != 0)
    throw InputError("group size " + std::to_string(group_) + " is not a multiple of the " + info.name +
                     " block of " + std::to_string(block_));
  if (cols_ % group_ != 0)
    throw InputError("rows of " + std::to_string(cols_) + " are not a multiple of the group size " +
                     std::to_string(group_));
  block_bytes_ = info.type_size;
  row_bytes_ = row_size(type, cols);
  blocks_.assign(size_t(rows) * row_bytes_, 0);
  codes_.assign(size_t(rows * cols), 0);
}

int BlockTypeRounder::max_code() const { return grid_->max_code; }

void BlockTypeRounder::fix_group(int64_t row, int64_t group, const float* w, const float* importance,
                                 ElementGrid* grids) {
  const TypeInfo& info = type_info(type_);
  for (int64_t k = 0; k < group_; k += block_) {
    const int64_t col = group * group_ + k;
    uint8_t* blk = &blocks_[size_t(row) * row_bytes_ + size_t(col / block_) * block_bytes_];
    info.quantize(w + k, blk, 1, block_, importance ? importance + k : nullptr);
    read_element_grids(*grid_, blk, grids + k);
  }
}

std::vector<uint8_t> BlockTypeRounder::finish() {
  for (int64_t r = 0; r < rows_; ++r)
    for (int64_t b = 0; b < cols_ / block_; ++b)
      grid_->write_codes(&blocks_[size_t(r) * row_bytes_ + size_t(b) * block_bytes_], &codes_[size_t(r * cols_ + b * block_)]);
  return std::move(blocks_);
}

}  // namespace qinfer
