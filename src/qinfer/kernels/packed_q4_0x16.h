// q4_0x16: Q4_0 weights 16 rows at a time, the layout the AVX-512 VNNI decode
// kernel reads with four aligned 64-byte loads and one 32-byte load per block
// of the 16 rows (instead of 16 scattered 18-byte blocks and a transposition).
//
//   group g (rows 16g..16g+15), group_bytes(n) apart, 64-byte aligned:
//     codes: block ib at ib·256: dword d (d < 4) of the block's qs, row j at
//            64·d + 4·j: lane j of a 512-bit load is row j (low nibbles:
//            elements 4d..4d+3, high nibbles: 16+4d..16+4d+3)
//     scales: after the nb code blocks, block ib at nb·256 + 32·ib: row j's
//            fp16 d at 2·j
//   the rows % 16 rows after the last whole group: plain Q4_0 rows, nb·18 bytes apart.
// For row counts that are multiples of 16 it is as big as the file's rows
// (plus padding to 64 bytes per group when nb is odd).
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/quant/q4_0.h"

namespace qinfer::kernels::q4_0x16 {

constexpr int kRows = 16;
constexpr size_t kCodeBlockBytes = 256;  // one block of 32 elements × 16 rows
constexpr size_t kScaleBlockBytes = 32;  // 16 fp16 scales

inline size_t group_bytes(int64_t n) {
  const size_t raw = size_t(n / kQK4_0) * (kCodeBlockBytes + kScaleBlockBytes);
  return (raw + 63) / 64 * 64;
}
inline size_t tail_row_bytes(int64_t n) { return size_t(n / kQK4_0) * sizeof(BlockQ4_0); }
inline size_t bytes(int64_t n, int64_t rows) {
  return size_t(rows / kRows) * group_bytes(n) + size_t(rows % kRows) * tail_row_bytes(n);
}
inline const uint8_t* group(const void* P, int64_t n, int64_t g) {
  return static_cast<const uint8_t*>(P) + size_t(g) * group_bytes(n);
}
inline const uint8_t* codes(const uint8_t* grp, int64_t ib) { return grp + size_t(ib) * kCodeBlockBytes; }
inline const uint8_t* scales(const uint8_t* grp, int64_t n, int64_t ib) {
  return grp + size_t(n / kQK4_0) * kCodeBlockBytes + size_t(ib) * kScaleBlockBytes;
}
// Row r of the tail (r >= rows / 16 · 16), as a plain Q4_0 row.
inline const uint8_t* tail_row(const void* P, int64_t n, int64_t rows, int64_t r) {
  const int64_t whole = rows / kRows * kRows;
  return static_cast<const uint8_t*>(P) + size_t(rows / kRows) * group_bytes(n) + size_t(r - whole) * tail_row_bytes(n);
}

void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels::q4_0x16
