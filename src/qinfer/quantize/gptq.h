// GPTQ (Frantar et al., arXiv 2210.17323): quantize a linear layer's weight
// column by column (input channel by input channel), feeding each column's
// rounding error forward into the columns not yet quantized through the
// Cholesky factor of the inverse Hessian H = 2·X·Xᵀ of the layer's inputs, so
// that ‖W·X − Ŵ·X‖ stays small on the calibration activations. Blocked with
// lazy batch updates as in the paper; optional act-order (columns by
// decreasing H diagonal). The rounding step is a GroupRounder: a type's own
// block quantizer (GGUF output) or a plain uniform grid (Hugging Face GPTQ).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qinfer/quant/code_grid.h"

namespace qinfer {

class ThreadPool;

// The grid GPTQ rounds onto. A group is `group_size()` consecutive columns of
// one row whose parameters are fixed together; GPTQ fixes a group's
// parameters when it first reaches one of its columns, from the group's
// current (error-fed) weights. Calls for different rows may run concurrently.
class GroupRounder {
 public:
  virtual ~GroupRounder() = default;
  virtual int64_t group_size() const = 0;
  virtual int max_code() const = 0;
  // w: the group's current weights (group_size values, column order);
  // importance: per column (E[x²]), or null. Fills one grid per column.
  virtual void fix_group(int64_t row, int64_t group, const float* w, const float* importance, ElementGrid* grids) = 0;
  virtual void set_code(int64_t row, int64_t col, int code) = 0;
};

struct GptqOptions {
  double damp = 0.01;          // added to H's diagonal, as a fraction of its mean
  bool act_order = false;      // quantize columns by decreasing H diagonal
  int64_t batch = 128;         // lazy-update batch in columns (rounded up to a multiple of the group)
  bool importance = true;      // pass diag(H) to the rounder's parameter search
  // Candidate parameters per group: the group's weights clipped to
  // 1, 1 − clip_step, … (clip_candidates values) of their range, each run
  // through the rounder; the one whose codes, chosen with GPTQ's feedback
  // inside the group, add the least to GPTQ's loss is kept. 1: the rounder's
  // own choice only.
  int clip_candidates = 1;
  double clip_step = 0.03;
  std::string name;            // tensor name, for messages
};

struct GptqStats {
  double damp = 0;             // damping fraction finally used
  int damp_raises = 0;         // times the damping was multiplied by 10 (H not positive definite)
  int64_t dead_columns = 0;    // columns whose inputs were always zero (weights set to 0)
  double loss = 0;             // Σ (w − q)² / (2·U_ii²): GPTQ's own error estimate
};

// Quantizes W (rows × cols, row-major: row = output channel) onto `rounder`.
// h: cols × cols, Σ over calibration tokens of x·xᵀ (any positive scale).
// Throws InputError naming options.name when H is not finite or stays
// indefinite with damping up to 1 (the whole mean diagonal).
GptqStats gptq_quantize(const float* W, int64_t rows, int64_t cols, std::vector<double> h, GroupRounder& rounder,
                        const GptqOptions& options, ThreadPool& pool);

// GGUF block types as the rounding step: each block's parameters come from the
// type's own quantizer (importance-weighted where the type has a weighted
// search), its codes from GPTQ. The group is a multiple of the type's block.
class BlockTypeRounder : public GroupRounder {
 public:
  // Throws InputError when the type has no affine code grid or the group is
  // not a multiple of its block, or cols is not a multiple of the group.
  BlockTypeRounder(TypeId type, int64_t rows, int64_t cols, int64_t group);
  int64_t group_size() const override { return group_; }
  int max_code() const override;
  void fix_group(int64_t row, int64_t group, const float* w, const float* importance, ElementGrid* grids) override;
  void set_code(int64_t row, int64_t col, int code) override { codes_[size_t(row * cols_ + col)] = uint8_t(code); }
  // The quantized rows (rows × row_size bytes) with GPTQ's codes written in.
  std::vector<uint8_t> finish();

 private:
  TypeId type_;
  const CodeGrid* grid_;
  int64_t rows_, cols_, group_, block_;
  size_t block_bytes_, row_bytes_;
  std::vector<uint8_t> blocks_;
  std::vector<uint8_t> codes_;
};

}  // namespace qinfer
