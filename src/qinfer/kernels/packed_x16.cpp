// The 16-row interleaved layout's packing and scalar reference (packed_x16.h).
#include "qinfer/kernels/packed_x16.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/q8_0.h"

namespace qinfer::kernels::x16 {

void pack(const Layout& L, PutCodes put, int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst) {
  const int64_t nb = n / kBlock;
  const auto* w = static_cast<const uint8_t*>(W);
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t groups = rows / kRows;
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* grp = out + size_t(g) * group_bytes(L, n);
    std::memset(grp, 0, group_bytes(L, n));  // the padding too: no uninitialised bytes
    for (int j = 0; j < kRows; ++j) {
      const uint8_t* row = w + size_t(g * kRows + j) * w_stride;
      for (int64_t ib = 0; ib < nb; ++ib) {
        const uint8_t* blk = row + size_t(ib) * L.row_block;
        put(blk, j, grp + size_t(ib) * L.code_block);
        std::memcpy(grp + size_t(nb) * L.code_block + size_t(ib) * kScaleBlockBytes + 2 * j, blk, 2);
      }
    }
  }
  for (int64_t r = groups * kRows; r < rows; ++r)
    std::memcpy(const_cast<uint8_t*>(tail_row(L, dst, n, rows, r)), w + size_t(r) * w_stride, tail_row_bytes(L, n));
}

RowRef row_ref(const Layout& L, const void* P, int64_t n, int64_t rows, int64_t r) {
  RowRef v;
  if (r < rows / kRows * kRows) {
    v.grp = group(L, P, n, r / kRows);
    v.j = int(r % kRows);
  } else {
    v.plain = tail_row(L, P, n, rows, r);
  }
  return v;
}

float row_scale(const Layout& L, const RowRef& v, int64_t n, int64_t ib) {
  uint16_t h;
  std::memcpy(&h, v.plain ? v.plain + size_t(ib) * L.row_block : scales(L, v.grp, n, ib) + 2 * v.j, 2);
  return fp16_to_f32(h);
}

void matmul_reference(const Layout& L, BlockSum block_sum, int64_t n, const void* P, int64_t rows, int64_t r0,
                      int64_t r1, const void* X, size_t x_stride, int64_t n_tok, float* Y, int64_t ldy) {
  const int64_t nb = n / kBlock;
  for (int64_t r = r0; r < r1; ++r) {
    const RowRef v = row_ref(L, P, n, rows, r);
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* x = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(X) + size_t(t) * x_stride);
      float acc = 0.0f;
      for (int64_t ib = 0; ib < nb; ++ib)
        acc = std::fma(float(block_sum(L, v, ib, x[ib].qs)), row_scale(L, v, n, ib) * fp16_to_f32(x[ib].d), acc);
      Y[t * ldy + r] = acc;
    }
  }
}

}  // namespace qinfer::kernels::x16
