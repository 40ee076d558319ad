// q4_Kx16, q5_Kx16, q6_Kx16 packing and their scalar reference matmul (layout
// in packed_kx16.h). Both go through one plain form of a row's super-block
// (256 unsigned codes, 8 int8 pairs, d, dmin), decoded from the file's block
// or from the packed group, so packing and reading share one description.
#include "qinfer/kernels/packed_kx16.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/q6_k.h"

namespace qinfer::kernels::kx16 {

namespace {

const Shape kQ4K = {TypeId::Q4_K, sizeof(BlockQ4_K), 4 * 64, true};
const Shape kQ5K = {TypeId::Q5_K, sizeof(BlockQ5_K), 5 * 64, true};
const Shape kQ6K = {TypeId::Q6_K, sizeof(BlockQ6_K), 6 * 64, false};

// One row's super-block as the kernels see it. Codes are unsigned (Q6_K's
// stored offset by 32, as KDecQ6_K gives them).
struct Plain {
  uint8_t code[kQK_K];
  int8_t pair[8][2];
  uint16_t d = 0, dmin = 0;
};

Plain from_file(TypeId t, const uint8_t* blk) {
  Plain p;
  if (t == TypeId::Q6_K) {
    const auto& b = *reinterpret_cast<const BlockQ6_K*>(blk);
    for (int J = 0; J < 8; ++J) {
      const int h = J / 4, q = J % 4;
      for (int i = 0; i < 32; ++i)
        p.code[32 * J + i] = uint8_t(((b.ql[64 * h + 32 * (q & 1) + i] >> (4 * (q >> 1))) & 15) |
                                     ((b.qh[32 * h + i] >> (2 * q)) & 3) << 4);
    }
    for (int q = 0; q < 8; ++q) {
      p.pair[q][0] = b.scales[2 * q];
      p.pair[q][1] = b.scales[2 * q + 1];
    }
    p.d = b.d;
    return p;
  }
  // Q4_K and Q5_K share d, dmin, the scale field and the nibbles' order.
  const auto& b4 = *reinterpret_cast<const BlockQ4_K*>(blk);
  const uint8_t* qs = t == TypeId::Q5_K ? reinterpret_cast<const BlockQ5_K*>(blk)->qs : b4.qs;
  for (int J = 0; J < 8; ++J)
    for (int i = 0; i < 32; ++i) {
      int c = (qs[32 * (J / 2) + i] >> (4 * (J % 2))) & 15;
      if (t == TypeId::Q5_K) c |= ((reinterpret_cast<const BlockQ5_K*>(blk)->qh[i] >> J) & 1) << 4;
      p.code[32 * J + i] = uint8_t(c);
    }
  for (int q = 0; q < 8; ++q) {
    uint8_t sc, m;
    unpack_scale_min_k4(q, b4.scales, &sc, &m);
    p.pair[q][0] = int8_t(sc);  // six bits: fits int8
    p.pair[q][1] = int8_t(m);
  }
  p.d = b4.d;
  p.dmin = b4.dmin;
  return p;
}

// Offset of byte k (0..3) of row j in vector v of lane group l of a packed super-block.
inline size_t at(const Shape& s, int l, int v, int j, int k) {
  return size_t(l) * s.lane_bytes + 64 * size_t(v) + 4 * size_t(j) + size_t(k);
}

void store(const Shape& s, const Plain& p, int j, uint8_t* sb) {
  for (int l = 0; l < kLaneGroups; ++l)
    for (int k = 0; k < 4; ++k) {
      auto c = [&](int J) { return p.code[32 * J + 4 * l + k]; };
      if (s.type == TypeId::Q6_K) {
        for (int h = 0; h < 2; ++h) {
          for (int q = 0; q < 2; ++q)
            sb[at(s, l, 2 * h + q, j, k)] = uint8_t((c(4 * h + q) & 15) | (c(4 * h + q + 2) & 15) << 4);
          uint8_t hi = 0;
          for (int q = 0; q < 4; ++q) hi = uint8_t(hi | (c(4 * h + q) >> 4) << (2 * q));
          sb[at(s, l, 4 + h, j, k)] = hi;
        }
      } else {
        for (int v = 0; v < 4; ++v) sb[at(s, l, v, j, k)] = uint8_t((c(2 * v) & 15) | (c(2 * v + 1) & 15) << 4);
        if (s.type == TypeId::Q5_K) {
          uint8_t hi = 0;
          for (int J = 0; J < 8; ++J) hi = uint8_t(hi | (c(J) >> 4) << J);
          sb[at(s, l, 4, j, k)] = hi;
        }
      }
    }
  for (int q = 0; q < 8; ++q) std::memcpy(sb + pairs_offset(s) + 32 * q + 2 * j, p.pair[q], 2);
  std::memcpy(sb + d_offset(s) + 2 * j, &p.d, 2);
  if (s.has_min) std::memcpy(sb + dmin_offset(s) + 2 * j, &p.dmin, 2);
}

Plain load(const Shape& s, const uint8_t* sb, int j) {
  Plain p;
  for (int l = 0; l < kLaneGroups; ++l)
    for (int k = 0; k < 4; ++k)
      for (int J = 0; J < 8; ++J) {
        int c;
        if (s.type == TypeId::Q6_K) {
          const int h = J / 4, q = J % 4;
          c = ((sb[at(s, l, 2 * h + (q & 1), j, k)] >> (4 * (q >> 1))) & 15) |
              ((sb[at(s, l, 4 + h, j, k)] >> (2 * q)) & 3) << 4;
        } else {
          c = (sb[at(s, l, J / 2, j, k)] >> (4 * (J % 2))) & 15;
          if (s.type == TypeId::Q5_K) c |= ((sb[at(s, l, 4, j, k)] >> J) & 1) << 4;
        }
        p.code[32 * J + 4 * l + k] = uint8_t(c);
      }
  for (int q = 0; q < 8; ++q) std::memcpy(p.pair[q], sb + pairs_offset(s) + 32 * q + 2 * j, 2);
  std::memcpy(&p.d, sb + d_offset(s) + 2 * j, 2);
  if (s.has_min) std::memcpy(&p.dmin, sb + dmin_offset(s) + 2 * j, 2);
  return p;
}

void pack(const Shape& s, int64_t n, int64_t rows, const void* W, size_t w_stride, void* dst) {
  const int64_t nb = n / kQK_K;
  const auto* w = static_cast<const uint8_t*>(W);
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t groups = rows / kRows;
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* grp = out + size_t(g) * group_bytes(s, n);
    std::memset(grp, 0, group_bytes(s, n));  // the padding too: no uninitialised bytes
    for (int j = 0; j < kRows; ++j) {
      const uint8_t* row = w + size_t(g * kRows + j) * w_stride;
      for (int64_t ib = 0; ib < nb; ++ib)
        store(s, from_file(s.type, row + size_t(ib) * s.file_block_bytes), j, grp + size_t(ib) * sb_bytes(s));
    }
  }
  for (int64_t r = groups * kRows; r < rows; ++r)
    std::memcpy(const_cast<uint8_t*>(tail_row(s, dst, n, rows, r)), w + size_t(r) * w_stride, tail_row_bytes(s, n));
}

// KTile's arithmetic for one row and one token, written out: per super-block
// lane l's exact integer sum of chunk slices 4l..4l+3 times their sub-block
// scales, and its bias (mins · bsums, or Q6_K's offset 32 · scale · bsums);
// each lane its own float accumulator, fused multiply-adds in KTile's order;
// at the end hsum8's tree ((0+4)+(2+6)) + ((1+5)+(3+7)).
float dot_row(const Shape& s, const Plain* blocks, int64_t nb, const BlockQ8_K* x) {
  float acc[8] = {};
  for (int64_t ib = 0; ib < nb; ++ib) {
    const Plain& p = blocks[ib];
    const BlockQ8_K& y = x[ib];
    const float d = fp16_to_f32(p.d) * y.d;
    for (int l = 0; l < 8; ++l) {
      int32_t isum = 0;
      for (int J = 0; J < 8; ++J) {
        // Q6_K: lanes 0-3 are the chunk's first 16-element sub-block, 4-7 its second.
        const int scale = s.type == TypeId::Q6_K ? p.pair[J][l / 4] : p.pair[J][0];
        int32_t dot = 0;
        for (int k = 0; k < 4; ++k) dot += int32_t(p.code[32 * J + 4 * l + k]) * y.qs[32 * J + 4 * l + k];
        isum += scale * dot;
      }
      const int32_t bias = s.has_min ? p.pair[l][1] * y.bsums[2 * l] + p.pair[l][1] * y.bsums[2 * l + 1]
                                     : 32 * p.pair[l][0] * y.bsums[2 * l] + 32 * p.pair[l][1] * y.bsums[2 * l + 1];
      if (s.has_min) {
        acc[l] = std::fma(d, float(isum), acc[l]);
        acc[l] = std::fma(-(fp16_to_f32(p.dmin) * y.d), float(bias), acc[l]);
      } else {
        acc[l] = std::fma(d, float(isum - bias), acc[l]);
      }
    }
  }
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

void reference(const Shape& s, int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X,
               size_t x_stride, int64_t n_tok, float* Y, int64_t ldy) {
  const int64_t nb = n / kQK_K;
  const int64_t whole = rows / kRows * kRows;
  std::vector<Plain> blocks(static_cast<size_t>(nb));
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t ib = 0; ib < nb; ++ib)
      blocks[size_t(ib)] =
          r < whole ? load(s, group(s, P, n, r / kRows) + size_t(ib) * sb_bytes(s), int(r % kRows))
                    : from_file(s.type, tail_row(s, P, n, rows, r) + size_t(ib) * s.file_block_bytes);
    for (int64_t t = 0; t < n_tok; ++t) {
      const auto* x = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(X) + size_t(t) * x_stride);
      Y[t * ldy + r] = dot_row(s, blocks.data(), nb, x);
    }
  }
}

}  // namespace

const Shape& shape(TypeId type) {
  switch (type) {
    case TypeId::Q4_K: return kQ4K;
    case TypeId::Q5_K: return kQ5K;
    case TypeId::Q6_K: return kQ6K;
    default: throw Error("kx16: no packed k-quant layout for this type");
  }
}

size_t bytes_q4_k(int64_t n, int64_t rows) { return bytes(kQ4K, n, rows); }
size_t bytes_q5_k(int64_t n, int64_t rows) { return bytes(kQ5K, n, rows); }
size_t bytes_q6_k(int64_t n, int64_t rows) { return bytes(kQ6K, n, rows); }
void pack_q4_k(int64_t n, int64_t rows, const void* W, size_t ws, void* dst) { pack(kQ4K, n, rows, W, ws, dst); }
void pack_q5_k(int64_t n, int64_t rows, const void* W, size_t ws, void* dst) { pack(kQ5K, n, rows, W, ws, dst); }
void pack_q6_k(int64_t n, int64_t rows, const void* W, size_t ws, void* dst) { pack(kQ6K, n, rows, W, ws, dst); }
void reference_q4_k(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t xs,
                    int64_t n_tok, float* Y, int64_t ldy) {
  reference(kQ4K, n, P, rows, r0, r1, X, xs, n_tok, Y, ldy);
}
void reference_q5_k(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t xs,
                    int64_t n_tok, float* Y, int64_t ldy) {
  reference(kQ5K, n, P, rows, r0, r1, X, xs, n_tok, Y, ldy);
}
void reference_q6_k(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X, size_t xs,
                    int64_t n_tok, float* Y, int64_t ldy) {
  reference(kQ6K, n, P, rows, r0, r1, X, xs, n_tok, Y, ldy);
}

}  // namespace qinfer::kernels::kx16
