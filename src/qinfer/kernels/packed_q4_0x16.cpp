// q4_0x16 packing and its scalar reference (layout in packed_q4_0x16.h).
#include "qinfer/kernels/packed_q4_0x16.h"

namespace qinfer::kernels::q4_0x16 {

namespace {

int32_t block_sum(const x16::Layout& L, const x16::RowRef& v, int64_t ib, const int8_t* xq) {
  int32_t sum = 0;
  for (int i = 0; i < 32; ++i) sum += (x16::nibble_code<BlockQ4_0>(L, v, ib, i) - 8) * xq[i];
  return sum;
}

}  // namespace

void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst) {
  x16::pack(kLayout, x16::put_nibble_codes<BlockQ4_0>, n, rows, W, w_stride, dst);
}

void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy) {
  x16::matmul_reference(kLayout, block_sum, n, P, rows, r0, r1, X, x_stride, n_tok, Y, ldy);
}

}  // namespace qinfer::kernels::q4_0x16
