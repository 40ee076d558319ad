// q8_0x16: Q8_0 weights 16 rows at a time in the x16 layout (packed_x16.h):
// dword k of a block's codes holds elements 4k..4k+3 of row j, each stored as
// code + 128 (code ^ 0x80), the unsigned operand vpdpbusd takes, so the VNNI
// kernels read eight 64-byte loads per block of 16 rows and feed them to the
// dot products as they are (the -128·Σx correction comes from the activations).
// Per 16 rows it is the file's bytes (plus 32 bytes of padding per group when
// the block count is odd).
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/packed_x16.h"
#include "qinfer/quant/q8_0.h"

namespace qinfer::kernels::q8_0x16 {

constexpr int kRows = x16::kRows;
inline constexpr x16::Layout kLayout{512, sizeof(BlockQ8_0)};

inline size_t bytes(int64_t n, int64_t rows) { return x16::bytes(kLayout, n, rows); }
void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels::q8_0x16
