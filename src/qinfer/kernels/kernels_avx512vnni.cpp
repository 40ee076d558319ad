// AVX-512 VNNI kernels for the 32-element block types: the 256-bit block code
// of simd256.inc with vpdpbusd (one instruction per u8×s8 dot of 4) and, with
// 32 vector registers, 4 rows × 4 tokens per tile. Zen 4 splits 512-bit integer
// ops into two 256-bit halves, so 256-bit VNNI loses nothing there.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/kernel_table.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q4_1.h"
#include "qinfer/quant/q5_0.h"
#include "qinfer/quant/q5_1.h"
#include "qinfer/quant/q8_0.h"
#include "qinfer/quant/q8_1.h"

#define QINFER_SIMD_VNNI 1

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/simd256.inc"
#include "qinfer/kernels/tile_driver.inc"

template <class Tile>
void set(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = vec_dot_tiled<Tile>;
  t.matmul[uint32_t(id)] = matmul_tiled<Tile, 4, 4>;
}

}  // namespace

void fill_table_avx512vnni(KernelTable& t) {
  set<QuantTile<DecQ4_0>>(t, TypeId::Q4_0);
  set<QuantTile<DecQ4_1>>(t, TypeId::Q4_1);
  set<QuantTile<DecQ5_0>>(t, TypeId::Q5_0);
  set<QuantTile<DecQ5_1>>(t, TypeId::Q5_1);
  set<QuantTile<DecQ8_0>>(t, TypeId::Q8_0);
}

}  // namespace qinfer::kernels
