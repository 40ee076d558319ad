// q5_0x16: Q5_0 weights 16 rows at a time in the x16 layout (packed_x16.h).
// A block's codes are 320 bytes: the nibbles as q4_0x16 places Q4_0's (dword
// d < 4 holds qs[4d..4d+3] of row j at 64·d + 4·j), then 64 bytes of fifth
// bits rearranged for the kernel: byte 4·j + i, bit m = bit 4 of element
// 4m + i of row j, the byte that element occupies in register m (registers
// 0-3 the low nibbles, 4-7 the high ones). So register m's fifth bits are one
// 16-bit shift and an AND away (bit m of each byte moved to bit 4), instead of
// a per-row bit spread.
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/packed_x16.h"
#include "qinfer/quant/q5_0.h"

namespace qinfer::kernels::q5_0x16 {

constexpr int kRows = x16::kRows;
constexpr size_t kHighBitsOffset = 256;  // within a block's codes
inline constexpr x16::Layout kLayout{320, sizeof(BlockQ5_0)};

inline size_t bytes(int64_t n, int64_t rows) { return x16::bytes(kLayout, n, rows); }
void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels::q5_0x16
