#include "qinfer/quant/code_grid.h"

#include <cstring>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/quant/q2_k.h"
#include "qinfer/quant/q3_k.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q4_1.h"
#include "qinfer/quant/q4_k.h"
#include "qinfer/quant/q5_0.h"
#include "qinfer/quant/q5_1.h"
#include "qinfer/quant/q5_k.h"
#include "qinfer/quant/q6_k.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_k.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

namespace {

// Legacy 32-blocks: byte j holds element j (low nibble) and j + 16 (high).
void pack_nibbles_32(uint8_t* qs, const uint8_t* c) {
  for (int j = 0; j < 16; ++j) qs[j] = uint8_t((c[j] & 15) | (c[j + 16] & 15) << 4);
}
// Bit 4 of each of the 32 codes into a little-endian uint32.
void pack_high_bits_32(uint8_t* qh, const uint8_t* c) {
  uint32_t h = 0;
  for (int j = 0; j < 32; ++j) h |= uint32_t((c[j] >> 4) & 1) << j;
  for (int b = 0; b < 4; ++b) qh[b] = uint8_t(h >> (8 * b));
}
// Q2_K/Q3_K's 2-bit plane: element 128h + 32p + m sits in qs[32h + m] at bit 2p.
void pack_2bit_256(uint8_t* qs, const uint8_t* c) {
  for (int h = 0; h < 2; ++h)
    for (int m = 0; m < 32; ++m) {
      const uint8_t* e = c + 128 * h + m;
      qs[32 * h + m] = uint8_t((e[0] & 3) | (e[32] & 3) << 2 | (e[64] & 3) << 4 | (e[96] & 3) << 6);
    }
}
// Q4_K/Q5_K's nibbles: 64-element chunk k uses qs[32k + l], low = element 64k + l, high = 64k + 32 + l.
void pack_nibbles_256(uint8_t* qs, const uint8_t* c) {
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < 32; ++l) qs[32 * k + l] = uint8_t((c[64 * k + l] & 15) | (c[64 * k + 32 + l] & 15) << 4);
}

void write_q4_0(void* b, const uint8_t* c) { pack_nibbles_32(static_cast<BlockQ4_0*>(b)->qs, c); }
void write_q4_1(void* b, const uint8_t* c) { pack_nibbles_32(static_cast<BlockQ4_1*>(b)->qs, c); }
void write_q5_0(void* b, const uint8_t* c) {
  auto* y = static_cast<BlockQ5_0*>(b);
  pack_nibbles_32(y->qs, c);
  pack_high_bits_32(y->qh, c);
}
void write_q5_1(void* b, const uint8_t* c) {
  auto* y = static_cast<BlockQ5_1*>(b);
  pack_nibbles_32(y->qs, c);
  pack_high_bits_32(y->qh, c);
}
// Code c stands for the int8 value c − 128.
void write_q8_0(void* b, const uint8_t* c) {
  auto* y = static_cast<BlockQ8_0*>(b);
  for (int j = 0; j < 32; ++j) y->qs[j] = int8_t(int(c[j]) - 128);
}
void write_q2_k(void* b, const uint8_t* c) { pack_2bit_256(static_cast<BlockQ2_K*>(b)->qs, c); }
// Code c (0..7) stands for c − 4: low 2 bits in qs, bit 2 in hmask (element j: byte j % 32, bit j / 32).
void write_q3_k(void* b, const uint8_t* c) {
  auto* y = static_cast<BlockQ3_K*>(b);
  pack_2bit_256(y->qs, c);
  std::memset(y->hmask, 0, sizeof y->hmask);
  for (int j = 0; j < 256; ++j)
    if (c[j] & 4) y->hmask[j % 32] = uint8_t(y->hmask[j % 32] | 1 << (j / 32));
}
void write_q4_k(void* b, const uint8_t* c) { pack_nibbles_256(static_cast<BlockQ4_K*>(b)->qs, c); }
// Bit 4 of element 32j + l (sub-block j) goes to qh[l] bit j.
void write_q5_k(void* b, const uint8_t* c) {
  auto* y = static_cast<BlockQ5_K*>(b);
  pack_nibbles_256(y->qs, c);
  std::memset(y->qh, 0, sizeof y->qh);
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l) y->qh[l] = uint8_t(y->qh[l] | ((c[32 * j + l] >> 4) & 1) << j);
}
// Code c (0..63) stands for c − 32; per 128-half: ql low/high nibbles, qh 2-bit planes.
void write_q6_k(void* b, const uint8_t* c) {
  auto* y = static_cast<BlockQ6_K*>(b);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* e = c + 128 * h;
    uint8_t* ql = y->ql + 64 * h;
    uint8_t* qh = y->qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = uint8_t((e[l] & 15) | (e[l + 64] & 15) << 4);
      ql[l + 32] = uint8_t((e[l + 32] & 15) | (e[l + 96] & 15) << 4);
      qh[l] = uint8_t((e[l] >> 4) | (e[l + 32] >> 4) << 2 | (e[l + 64] >> 4) << 4 | (e[l + 96] >> 4) << 6);
    }
  }
}

// The fp16 parameters: d alone, or d and a min (m of the legacy types, dmin of the k-quants).
template <typename B>
void set_d(void* b, const float* p) {
  static_cast<B*>(b)->d = f32_to_fp16(p[0]);
}
template <typename B>
void set_d_m(void* b, const float* p) {
  static_cast<B*>(b)->d = f32_to_fp16(p[0]);
  static_cast<B*>(b)->m = f32_to_fp16(p[1]);
}
template <typename B>
void set_d_dmin(void* b, const float* p) {
  static_cast<B*>(b)->d = f32_to_fp16(p[0]);
  static_cast<B*>(b)->dmin = f32_to_fp16(p[1]);
}
template <typename B>
void get_d(const void* b, float* p) {
  p[0] = fp16_to_f32(static_cast<const B*>(b)->d);
}
template <typename B>
void get_d_m(const void* b, float* p) {
  p[0] = fp16_to_f32(static_cast<const B*>(b)->d);
  p[1] = fp16_to_f32(static_cast<const B*>(b)->m);
}
template <typename B>
void get_d_dmin(const void* b, float* p) {
  p[0] = fp16_to_f32(static_cast<const B*>(b)->d);
  p[1] = fp16_to_f32(static_cast<const B*>(b)->dmin);
}

// One row per type whose values are affine in an integer code.
constexpr CodeGrid kGrids[] = {
    {TypeId::Q4_0, 15, write_q4_0, 1, set_d<BlockQ4_0>, get_d<BlockQ4_0>},
    {TypeId::Q4_1, 15, write_q4_1, 2, set_d_m<BlockQ4_1>, get_d_m<BlockQ4_1>},
    {TypeId::Q5_0, 31, write_q5_0, 1, set_d<BlockQ5_0>, get_d<BlockQ5_0>},
    {TypeId::Q5_1, 31, write_q5_1, 2, set_d_m<BlockQ5_1>, get_d_m<BlockQ5_1>},
    {TypeId::Q8_0, 255, write_q8_0, 1, set_d<BlockQ8_0>, get_d<BlockQ8_0>},
    {TypeId::Q2_K, 3, write_q2_k, 2, set_d_dmin<BlockQ2_K>, get_d_dmin<BlockQ2_K>},
    {TypeId::Q3_K, 7, write_q3_k, 1, set_d<BlockQ3_K>, get_d<BlockQ3_K>},
    {TypeId::Q4_K, 15, write_q4_k, 2, set_d_dmin<BlockQ4_K>, get_d_dmin<BlockQ4_K>},
    {TypeId::Q5_K, 31, write_q5_k, 2, set_d_dmin<BlockQ5_K>, get_d_dmin<BlockQ5_K>},
    {TypeId::Q6_K, 63, write_q6_k, 1, set_d<BlockQ6_K>, get_d<BlockQ6_K>},
};

constexpr int kMaxBlock = 256;
constexpr size_t kMaxBlockBytes = 512;

}  // namespace

const CodeGrid* find_code_grid(TypeId type) {
  for (const CodeGrid& g : kGrids)
    if (g.type == type) return &g;
  return nullptr;
}

void read_element_grids(const CodeGrid& grid, const void* block, ElementGrid* out) {
  const TypeInfo& info = type_info(grid.type);
  const int n = int(info.block_size);
  if (n > kMaxBlock || info.type_size > kMaxBlockBytes) throw Error("code grid: block of " + std::string(info.name) + " too large");
  uint8_t tmp[kMaxBlockBytes];
  uint8_t codes[kMaxBlock];
  float v0[kMaxBlock], v1[kMaxBlock];
  std::memcpy(tmp, block, info.type_size);
  std::memset(codes, 0, size_t(n));
  grid.write_codes(tmp, codes);
  info.to_float(tmp, v0, n);
  std::memset(codes, 1, size_t(n));
  grid.write_codes(tmp, codes);
  info.to_float(tmp, v1, n);
  for (int i = 0; i < n; ++i) out[i] = {v0[i], v1[i] - v0[i]};
}

void read_param_basis(const CodeGrid& grid, const void* block, float* basis) {
  const TypeInfo& info = type_info(grid.type);
  const int n = int(info.block_size);
  if (n > kMaxBlock || info.type_size > kMaxBlockBytes || grid.n_params > kMaxGridParams)
    throw Error("code grid: block of " + std::string(info.name) + " too large");
  uint8_t tmp[kMaxBlockBytes];
  std::memcpy(tmp, block, info.type_size);
  for (int p = 0; p < grid.n_params; ++p) {
    float unit[kMaxGridParams] = {};
    unit[p] = 1.0f;
    grid.set_params(tmp, unit);
    info.to_float(tmp, basis + size_t(p) * size_t(n), n);
  }
}

}  // namespace qinfer
