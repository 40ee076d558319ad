// Row-interleaved weight layouts, made once at model load (model/repack.h)
// for the types whose active kernel path reads them faster than the file's
// row-major blocks: each group of rows is one contiguous stream, in the order
// the SIMD kernel consumes it, so decode reads weights sequentially instead of
// 16 rows' blocks at a time from 16 places. The packed matmul gives bitwise
// the results of matmul_rows on the same ISA (the same integer block sums and
// float operations, in the same order); it only moves bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/quant/type_id.h"

namespace qinfer::kernels {

// A packed layout of one weight type: its name ("q4_0x16"), its size for a
// rows × n matrix, the packing itself, and the scalar reference matmul over it.
struct PackedFormat {
  TypeId type;
  const char* name;
  int rows_per_group;
  size_t (*bytes)(int64_t n, int64_t rows);
  // dst (64-byte aligned, bytes(n, rows) long) from `rows` rows of W, w_stride bytes apart.
  void (*pack)(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst);
  // As matmul_packed, in scalar code: the reference the SIMD kernels are tested against.
  void (*matmul_reference)(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X,
                           size_t x_stride, int64_t n_tok, float* Y, int64_t ldy);
};

// The packed layout of `type`, or nullptr when it has none.
const PackedFormat* packed_format(TypeId type);

// Whether the active ISA has a packed matmul for `type` (and so whether
// packing its weights pays). False when QINFER_ISA pins a path without one.
bool has_packed_matmul(TypeId type);

// Y[t * ldy + r] = dot(row r, X row t) for r in [r0, r1) of a `rows` × n
// matrix packed by packed_format(wtype)->pack; the rest as matmul_rows. Throws
// Error when the active ISA has no packed matmul for wtype.
void matmul_packed(TypeId wtype, int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X,
                   size_t x_stride, int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels
