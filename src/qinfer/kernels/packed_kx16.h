// q4_Kx16, q5_Kx16, q6_Kx16: k-quant weights 16 rows at a time, the layout the
// AVX-512 VNNI kernels (kernels_kx16_avx512vnni.cpp) read with aligned 64-byte
// loads, lane j of every load being row j. The six-bit scales (and mins) are
// unpacked at pack time to one int8 pair per row and sub-block pair, so the
// kernel's per-super-block set-up is a sign extension and a byte shuffle.
//
// The kernels reproduce KTile's arithmetic (kquant256.inc) per row: KTile sums
// a super-block in 8 int32 lanes, lane l holding elements 32J+4l..32J+4l+3 of
// every 32-element chunk J, each lane scaled into its own float accumulator.
// Here "lane group" l is the same 4-element slice of every chunk, so lane
// group l of the 16 rows is one int32 vector: the results are KTile's bits.
//
//   group g (rows 16g..16g+15), group_bytes(n) apart, 64-byte aligned, holds
//   nb = n / 256 super-blocks of sb_bytes each; super-block ib at ib·sb_bytes:
//     codes, lane group l (0..7) at l·lane_bytes, each 64-byte vector with row
//     j's 4 bytes at 4·j:
//       q4_K: vector c (0..3): qs[32c+4l..+3]  (low nibble chunk 2c, high 2c+1)
//       q5_K: as q4_K, then vector 4: qh[4l..+3]  (bit J: high bit of chunk J)
//       q6_K: vector 2h+p (h, p < 2): ql[64h+32p+4l..+3] (low nibble chunk
//             4h+p, high 4h+p+2), then vector 4+h: qh[32h+4l..+3] (bits
//             2p..2p+1: chunk 4h+p's high bits, p < 4)
//     pairs, at 8·lane_bytes: pair q (0..7) at 32·q, row j's two int8 at 2·j:
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
constexpr int kLaneGroups = 8;
constexpr size_t kPairBytes = 256;  // 8 pairs × 16 rows × 2 int8

// One k-quant's packed shape.
struct Shape {
  TypeId type;
  size_t file_block_bytes;  // the file's super-block of one row
  size_t lane_bytes;        // codes of one lane group of 16 rows
  bool has_min;             // q4_K, q5_K: a dmin row after d
};

const Shape& shape(TypeId type);  // Q4_K, Q5_K or Q6_K

inline size_t sb_bytes(const Shape& s) {
  const size_t raw = kLaneGroups * s.lane_bytes + kPairBytes + (s.has_min ? 64 : 32);
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
inline size_t pairs_offset(const Shape& s) { return kLaneGroups * s.lane_bytes; }
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
