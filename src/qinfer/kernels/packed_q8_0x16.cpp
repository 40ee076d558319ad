// q8_0x16 packing and its scalar reference (layout in packed_q8_0x16.h).
#include "qinfer/kernels/packed_q8_0x16.h"

#include <cmath>
#include <cstring>

#include "qinfer/core/fp16.h"

namespace qinfer::kernels::q8_0x16 {

namespace {

void put_codes(const uint8_t* row_block, int j, uint8_t* code_block) {
  const auto& b = *reinterpret_cast<const BlockQ8_0*>(row_block);
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 4; ++i) code_block[64 * k + 4 * j + i] = uint8_t(b.qs[4 * k + i]) ^ 0x80;
}

// Row r's codes of block ib, signed.
int code(const x16::Layout& L, const x16::RowRef& v, int64_t ib, int i) {
  return v.plain ? reinterpret_cast<const BlockQ8_0*>(v.plain)[ib].qs[i]
                 : int(x16::codes(L, v.grp, ib)[64 * (i / 4) + 4 * v.j + i % 4]) - 128;
}

}  // namespace

void pack(int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst) {
  x16::pack(kLayout, put_codes, n, rows, W, w_stride, dst);
}

// vec_dot's order (ggml's AVX2 q8_0 dot, QuantTile): eight float lanes, lane k
// accumulating fma(d_w·d_x, exact Σ of elements 4k..4k+3, lane) block by block,
// then the lanes summed as hsum8 does, plus 0.
void matmul_reference(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t x_stride,
                      int64_t n_tok, float* Y, int64_t ldy) {
  const int64_t nb = n / kQK8_0;
  for (int64_t r = r0; r < r1; ++r) {
    const x16::RowRef v = x16::row_ref(kLayout, P, n, rows, r);
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* x = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(X) + size_t(t) * x_stride);
      float lane[8] = {};
      for (int64_t ib = 0; ib < nb; ++ib) {
        const float d = x16::row_scale(kLayout, v, n, ib) * fp16_to_f32(x[ib].d);
        for (int k = 0; k < 8; ++k) {
          int32_t sum = 0;
          for (int i = 4 * k; i < 4 * k + 4; ++i) sum += code(kLayout, v, ib, i) * x[ib].qs[i];
          lane[k] = std::fma(d, float(sum), lane[k]);
        }
      }
      Y[t * ldy + r] = ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7])) + 0.0f;
    }
  }
}

}  // namespace qinfer::kernels::q8_0x16
