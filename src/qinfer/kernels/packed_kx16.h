// q4_Kx16, q5_Kx16, q6_Kx16: k-quant weights 16 rows at a time, the layout the
// AVX-512 VNNI kernels (kernels_kx16_avx512vnni.cpp) read with 64-byte loads,
// lane j of every load being row j, so one vpdpbusd is a 4-element dot of 16
// rows. The six-bit scales (and mins) are unpacked at pack time to one int8
// pair per row and sub-block pair: the kernel's per-super-block set-up is a
// sign extension and a shift or shuffle, no bit-twiddling.
//
// Arithmetic (KTile's, kquant256.inc): per row and super-block one exact
// int32 Σ scale·Σ(code·y) over the sub-blocks, codes unsigned (Q6_K offset by
// 32), and one exact bias (mins · bsums, or 32 · scale · bsums for Q6_K); then
// one float step, acc = fma(d·d_x, Σ, acc), acc = fma(−dmin·d_x, bias, acc)
// (Q6_K: acc = fma(d·d_x, Σ − bias, acc)). The results are matmul_rows' bits.
//
//   group g (rows 16g..16g+15), group_bytes(n) apart, 64-byte aligned, holds
//   nb = n / 256 super-blocks of sb_bytes each; super-block ib at ib·sb_bytes:
//     nibbles, vector (v, L) (v < 4, L < 8) at 512·v + 64·L, row j's 4 bytes at 4·j:
//       q4_K, q5_K: qs[32v+4L..+3]       (low nibble chunk 2v, high 2v+1)
//       q6_K:       ql[64h+32p+4L..+3]   (v = 2h+p; low nibble chunk 4h+p, high 4h+p+2)
//     high bits, vector (h, L) at 2048 + 512·h + 64·L, row j at 4·j:
//       q5_K: qh[4L..+3], h = 0       (bit J: chunk J's fifth bit)
//       q6_K: qh[32h+4L..+3], h < 2   (bits 2p..2p+1: chunk 4h+p's top bits)
//     (chunk J = elements 32J..32J+31; lane slice L = its elements 4L..4L+3)
//     pairs, at code_bytes: pair q (0..7) at 32·q, row j's two int8 at 2·j:
//       q4_K, q5_K: (scale, min) of 32-element sub-block q
//       q6_K:       (scale of 16-element sub-block 2q, of 2q+1)
//     d: 16 fp16 (row j at 2·j), then for q4_K and q5_K dmin: 16 fp16
//   the rows % 16 rows after the last whole group: plain file rows.
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/quant/q8_k.h"
#include "qinfer/quant/type_id.h"

namespace qinfer::kernels::kx16 {

constexpr int kRows = 16;
constexpr size_t kPairBytes = 256;  // 8 pairs × 16 rows × 2 int8

// One k-quant's packed shape.
struct Shape {
  TypeId type;
  size_t file_block_bytes;  // the file's super-block of one row
  size_t code_bytes;        // nibbles and high bits of one super-block of 16 rows
  bool has_min;             // q4_K, q5_K: a dmin row after d
};

const Shape& shape(TypeId type);  // Q4_K, Q5_K or Q6_K

inline size_t sb_bytes(const Shape& s) {
  const size_t raw = s.code_bytes + kPairBytes + (s.has_min ? 64 : 32);
  return (raw + 63) / 64 * 64;
}
inline size_t group_bytes(const Shape& s, int64_t n) { return size_t(n / kQK_K) * sb_bytes(s); }
inline size_t tail_row_bytes(const Shape& s, int64_t n) { return size_t(n / kQK_K) * s.file_block_bytes; }
inline size_t bytes(const Shape& s, int64_t n, int64_t rows) {
  return size_t(rows / kRows) * group_bytes(s, n) + size_t(rows % kRows) * tail_row_bytes(s, n);
}
inline const uint8_t* group(const Shape& s, const void* P, int64_t n, int64_t g) {
  return static_cast<const uint8_t*>(P) + size_t(g) * group_bytes(s, n);
}
inline const uint8_t* tail_row(const Shape& s, const void* P, int64_t n, int64_t rows, int64_t r) {
  const int64_t whole = rows / kRows * kRows;
  return static_cast<const uint8_t*>(P) + size_t(rows / kRows) * group_bytes(s, n) +
         size_t(r - whole) * tail_row_bytes(s, n);
}
// Offsets inside one super-block of a group.
inline size_t pairs_offset(const Shape& s) { return s.code_bytes; }
inline size_t d_offset(const Shape& s) { return pairs_offset(s) + kPairBytes; }
inline size_t dmin_offset(const Shape& s) { return d_offset(s) + 32; }

// The PackedFormat entries (packed.h), one set per type.
size_t bytes_q4_k(int64_t n, int64_t rows);
size_t bytes_q5_k(int64_t n, int64_t rows);
size_t bytes_q6_k(int64_t n, int64_t rows);
void pack_q4_k(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void pack_q5_k(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void pack_q6_k(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
void reference_q4_k(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                    int64_t n_tok, float* Y, int64_t ldy);
void reference_q5_k(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                    int64_t n_tok, float* Y, int64_t ldy);
void reference_q6_k(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                    int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels::kx16
