// The 16-row interleaved layout shared by the packed formats of the 32-element
// block types whose blocks begin with one fp16 scale (q4_0x16, q5_0x16,
// q8_0x16, iq4_nlx16):
//
//   group g (rows 16g..16g+15), group_bytes(n) apart, 64-byte aligned:
//     codes: block ib at ib·code_block: dword k of the block's codes, row j at
//            64·k + 4·j: lane j of a 512-bit load is row j (what dword k holds
//            is the type's: packed_q4_0x16.h, packed_q8_0x16.h, ...)
//     scales: after the nb code blocks, block ib at nb·code_block + 32·ib: row
//            j's fp16 d at 2·j
//   the rows % 16 rows after the last whole group: the file's rows, row_block·nb bytes each.
// For 16 rows it is the file's bytes, plus padding to 64 bytes per group.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qinfer::kernels::x16 {

constexpr int kRows = 16;
constexpr int64_t kBlock = 32;           // elements per block
constexpr size_t kScaleBlockBytes = 32;  // 16 fp16 scales

struct Layout {
  size_t code_block;  // bytes of one block's codes for 16 rows
  size_t row_block;   // bytes of one block of a file row (its fp16 d first)
};

inline size_t group_bytes(const Layout& L, int64_t n) {
  const size_t raw = size_t(n / kBlock) * (L.code_block + kScaleBlockBytes);
  return (raw + 63) / 64 * 64;
}
inline size_t tail_row_bytes(const Layout& L, int64_t n) { return size_t(n / kBlock) * L.row_block; }
inline size_t bytes(const Layout& L, int64_t n, int64_t rows) {
  return size_t(rows / kRows) * group_bytes(L, n) + size_t(rows % kRows) * tail_row_bytes(L, n);
}
inline const uint8_t* group(const Layout& L, const void* P, int64_t n, int64_t g) {
  return static_cast<const uint8_t*>(P) + size_t(g) * group_bytes(L, n);
}
inline const uint8_t* codes(const Layout& L, const uint8_t* grp, int64_t ib) { return grp + size_t(ib) * L.code_block; }
inline const uint8_t* scales(const Layout& L, const uint8_t* grp, int64_t n, int64_t ib) {
  return grp + size_t(n / kBlock) * L.code_block + size_t(ib) * kScaleBlockBytes;
}
// Row r of the tail (r >= rows / 16 · 16), as the file's row.
inline const uint8_t* tail_row(const Layout& L, const void* P, int64_t n, int64_t rows, int64_t r) {
  const int64_t whole = rows / kRows * kRows;
  return static_cast<const uint8_t*>(P) + size_t(rows / kRows) * group_bytes(L, n) +
         size_t(r - whole) * tail_row_bytes(L, n);
}

// Writes row j's codes of one file block into the 16-row code block.
using PutCodes = void (*)(const uint8_t* row_block, int j, uint8_t* code_block);

// Packs `rows` file rows (w_stride bytes apart) into dst (64-byte aligned, bytes(L, n, rows) long).
void pack(const Layout& L, PutCodes put, int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);

// One row of a packed matrix, for the scalar references: a whole group's row j or a tail row.
struct RowRef {
  const uint8_t* grp = nullptr;    // the group, or null for
  const uint8_t* plain = nullptr;  // the tail row's file blocks
  int j = 0;
};
RowRef row_ref(const Layout& L, const void* P, int64_t n, int64_t rows, int64_t r);
// Row r's scale of block ib.
float row_scale(const Layout& L, const RowRef& v, int64_t n, int64_t ib);

// Blocks of Q4_0's shape (a scale, then qs[16]: low nibbles elements 0..15,
// high 16..31), as Q4_0 and IQ4_NL: row j's bytes 4d..4d+3 go to 64·d + 4·j.
template <class Block>
void put_nibble_codes(const uint8_t* row_block, int j, uint8_t* code_block) {
  const auto& b = *reinterpret_cast<const Block*>(row_block);
  for (int d = 0; d < 4; ++d)
    for (int k = 0; k < 4; ++k) code_block[64 * d + 4 * j + k] = b.qs[4 * d + k];
}
// Element i's 4-bit code (0..15) of block ib of such a row, packed or plain.
template <class Block>
int nibble_code(const Layout& L, const RowRef& v, int64_t ib, int i) {
  const int byte = i & 15;
  const uint8_t q = v.plain ? reinterpret_cast<const Block*>(v.plain)[ib].qs[byte]
                            : codes(L, v.grp, ib)[64 * (byte / 4) + 4 * v.j + byte % 4];
  return i < 16 ? q & 0x0F : q >> 4;
}

// The lane kernels' arithmetic, written out: per block the exact integer sum
// block_sum(v, ib, x codes), then acc = fma(float(sum), d_w·d_x, acc), blocks in
// order from 0. X rows are Q8_0.
using BlockSum = int32_t (*)(const Layout& L, const RowRef& v, int64_t ib, const int8_t* xq);
void matmul_reference(const Layout& L, BlockSum block_sum, int64_t n, const void* P, int64_t rows, int64_t r0,
                      int64_t r1, const void* X, size_t x_stride, int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels::x16
