// q4_0x16 packing and its scalar reference matmul (layout in packed_q4_0x16.h).
#include "qinfer/kernels/packed_q4_0x16.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"
#include "qinfer/quant/q8_0.h"

namespace qinfer::kernels::q4_0x16 {

void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst) {
  const int64_t nb = n / kQK4_0;
  const auto* w = static_cast<const uint8_t*>(W);
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t groups = rows / kRows;
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* grp = out + size_t(g) * group_bytes(n);
    std::memset(grp, 0, group_bytes(n));  // the padding too: no uninitialised bytes
    for (int j = 0; j < kRows; ++j) {
      const auto* row = reinterpret_cast<const BlockQ4_0*>(w + size_t(g * kRows + j) * w_stride);
      for (int64_t ib = 0; ib < nb; ++ib) {
        uint8_t* c = grp + size_t(ib) * kCodeBlockBytes;
        for (int d = 0; d < 4; ++d) std::memcpy(c + 64 * d + 4 * j, row[ib].qs + 4 * d, 4);
        std::memcpy(grp + size_t(nb) * kCodeBlockBytes + size_t(ib) * kScaleBlockBytes + 2 * j, &row[ib].d, 2);
      }
    }
  }
  for (int64_t r = groups * kRows; r < rows; ++r)
    std::memcpy(const_cast<uint8_t*>(tail_row(dst, n, rows, r)), w + size_t(r) * w_stride, tail_row_bytes(n));
}

namespace {

// Code of element i (0..31) of row j's block ib, and its scale.
struct RowView {
  const uint8_t* grp = nullptr;  // a whole group's row j, or
  const BlockQ4_0* plain = nullptr;  // a tail row
  int j = 0;
  int64_t n = 0;
  int code(int64_t ib, int i) const {
    const int byte = i & 15, d = byte / 4;
    const uint8_t q = plain ? plain[ib].qs[byte] : codes(grp, ib)[64 * d + 4 * j + byte % 4];
    return i < 16 ? q & 0x0F : q >> 4;
  }
  float scale(int64_t ib) const {
    uint16_t h;
    if (plain)
      h = plain[ib].d;
    else
      std::memcpy(&h, scales(grp, n, ib) + 2 * j, 2);
    return fp16_to_f32(h);
  }
};

}  // namespace

// The lane tile's arithmetic, written out: per block the exact integer sum,
// then acc = fma(float(sum), d_w·d_x, acc), blocks in order from 0.
void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy) {
  const int64_t nb = n / kQK4_0;
  const int64_t whole = rows / kRows * kRows;
  for (int64_t r = r0; r < r1; ++r) {
    RowView v;
    v.n = n;
    if (r < whole) {
      v.grp = group(P, n, r / kRows);
      v.j = int(r % kRows);
    } else {
      v.plain = reinterpret_cast<const BlockQ4_0*>(tail_row(P, n, rows, r));
    }
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* x = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(X) + size_t(t) * x_stride);
      float acc = 0.0f;
      for (int64_t ib = 0; ib < nb; ++ib) {
        int32_t sum = 0;
        for (int i = 0; i < 32; ++i) sum += (v.code(ib, i) - 8) * x[ib].qs[i];
        acc = std::fma(float(sum), v.scale(ib) * fp16_to_f32(x[ib].d), acc);
      }
      Y[t * ldy + r] = acc;
    }
  }
}

}  // namespace qinfer::kernels::q4_0x16
