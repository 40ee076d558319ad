// iq4_nlx16: IQ4_NL weights 16 rows at a time in the x16 layout (packed_x16.h),
// the nibbles placed as q4_0x16 places Q4_0's (packed_q4_0x16.h). The VNNI
// kernels split them with two ANDs and a shift per 64-byte load and look the
// 4-bit indices up with vpshufb in the codebook shifted by +128 (unsigned
// operands for vpdpbusd).
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/packed_x16.h"
#include "qinfer/quant/iq4_nl.h"

namespace qinfer::kernels::iq4_nlx16 {

constexpr int kRows = x16::kRows;
inline constexpr x16::Layout kLayout{256, sizeof(BlockIQ4_NL)};

inline size_t bytes(int64_t n, int64_t rows) { return x16::bytes(kLayout, n, rows); }
void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels::iq4_nlx16
