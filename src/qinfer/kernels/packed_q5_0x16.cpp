// q5_0x16 packing and its scalar reference (layout in packed_q5_0x16.h).
#include "qinfer/kernels/packed_q5_0x16.h"

#include <cstring>

namespace qinfer::kernels::q5_0x16 {

namespace {

void put_codes(const uint8_t* row_block, int j, uint8_t* code_block) {
  const auto& b = *reinterpret_cast<const BlockQ5_0*>(row_block);
  for (int d = 0; d < 4; ++d) std::memcpy(code_block + 64 * d + 4 * j, b.qs + 4 * d, 4);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int i = 0; i < 4; ++i) {
    uint8_t h = 0;
    for (int m = 0; m < 8; ++m) h |= uint8_t(((qh >> (4 * m + i)) & 1u) << m);
    code_block[kHighBitsOffset + 4 * j + i] = h;
  }
}

// Element i's code (0..31) of row v's block ib.
int code(const x16::Layout& L, const x16::RowRef& v, int64_t ib, int i) {
  const int byte = i & 15;
  if (v.plain) {
    const auto& b = reinterpret_cast<const BlockQ5_0*>(v.plain)[ib];
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    return (i < 16 ? b.qs[byte] & 0x0F : b.qs[byte] >> 4) | int((qh >> i) & 1u) << 4;
  }
  const uint8_t* c = x16::codes(L, v.grp, ib);
  const uint8_t q = c[64 * (byte / 4) + 4 * v.j + byte % 4];
  const int high = (c[kHighBitsOffset + 4 * v.j + i % 4] >> (i / 4)) & 1;
  return (i < 16 ? q & 0x0F : q >> 4) | high << 4;
}

int32_t block_sum(const x16::Layout& L, const x16::RowRef& v, int64_t ib, const int8_t* xq) {
  int32_t sum = 0;
  for (int i = 0; i < 32; ++i) sum += (code(L, v, ib, i) - 16) * xq[i];
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

}  // namespace qinfer::kernels::q5_0x16
