// q4_0x16: Q4_0 weights 16 rows at a time in the x16 layout (packed_x16.h):
// dword d (d < 4) of a block's codes holds qs[4d..4d+3] of row j at 64·d + 4·j
// (low nibbles: elements 4d..4d+3, high nibbles: 16+4d..16+4d+3), so the VNNI
// kernels split a block of 16 rows with two ANDs and a shift per 64-byte load
// (no gather from 16 rows, no transposition). IQ4_NL and Q5_0 place their
// nibbles the same way.
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/packed_x16.h"
#include "qinfer/quant/q4_0.h"

namespace qinfer::kernels::q4_0x16 {

constexpr int kRows = x16::kRows;
inline constexpr x16::Layout kLayout{256, sizeof(BlockQ4_0)};

inline size_t bytes(int64_t n, int64_t rows) { return x16::bytes(kLayout, n, rows); }
void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels::q4_0x16
