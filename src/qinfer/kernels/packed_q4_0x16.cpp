// q4_0x16 packing and its scalar reference (layout in packed_q4_0x16.h).
#include "qinfer/kernels/packed_q4_0x16.h"

#include <cstring>

namespace qinfer::kernels::q4_0x16 {

namespace {

void put_codes(const uint8_t* row_block, int j, uint8_t* code_block) {
  const auto& b = *reinterpret_cast<const BlockQ4_0*>(row_block);
  for (int d = 0; d < 4; ++d) std::memcpy(code_block + 64 * d + 4 * j, b.qs + 4 * d, 4);
}

int32_t block_sum(const x16::Layout& L, const x16::RowRef& v, int64_t ib, const int8_t* xq) {
  int32_t sum = 0;
  for (int i = 0; i < 32; ++i) {
    const int byte = i & 15;
    const uint8_t q = v.plain ? reinterpret_cast<const BlockQ4_0*>(v.plain)[ib].qs[byte]
                              : x16::codes(L, v.grp, ib)[64 * (byte / 4) + 4 * v.j + byte % 4];
    sum += ((i < 16 ? q & 0x0F : q >> 4) - 8) * xq[i];
  }
  return sum;
}

}  // namespace

void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst) {
  x16::pack(kLayout, put_codes, n, rows, W, w_stride, dst);
}

void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy) {
  x16::matmul_reference(kLayout, block_sum, n, P, rows, r0, r1, X, x_stride, n_tok, Y, ldy);
}

}  // namespace qinfer::kernels::q4_0x16
