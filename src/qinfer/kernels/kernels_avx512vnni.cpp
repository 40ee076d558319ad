// AVX-512 VNNI kernels for the block types: the 256-bit code of simd256.inc
// (32-element blocks, vpdpbusd: one instruction per u8×s8 dot of 4) and
// kquant256.inc (k-quants, vpdpwssd applies the sub-block scales), with the 32
// vector registers holding 8 tokens per tile. Zen 4 splits 512-bit integer ops
// into two 256-bit halves, so 256-bit VNNI loses nothing there.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/kernels/kernel_table.h"
#include "qinfer/quant/iq4_nl.h"
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
#include "qinfer/quant/q8_1.h"
#include "qinfer/quant/q8_k.h"

#define QINFER_SIMD_VNNI 1

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/simd256.inc"
#include "qinfer/kernels/kquant256.inc"
#include "qinfer/kernels/tile_driver.inc"

// 1 row × 8 tokens: one sequential weight stream (see set_q in
// kernels_avx2.cpp), and 8 tokens per decoded block for prefill (TinyLlama
// Q4_K pp64: 113 tokens/s vs 87 with 1×4, 73 with 4×4).
template <class Tile>
void set(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = vec_dot_tiled<Tile>;
  t.matmul[uint32_t(id)] = matmul_tiled<Tile, 1, 8>;
}

}  // namespace

void fill_table_avx512vnni(KernelTable& t) {
  set<QuantTile<DecQ4_0>>(t, TypeId::Q4_0);
  set<QuantTile<DecQ4_1>>(t, TypeId::Q4_1);
  set<QuantTile<DecQ5_0>>(t, TypeId::Q5_0);
  set<QuantTile<DecQ5_1>>(t, TypeId::Q5_1);
  set<QuantTile<DecQ8_0>>(t, TypeId::Q8_0);
  set<QuantTile<DecIQ4_NL>>(t, TypeId::IQ4_NL);
  set<KTile<KDecQ2_K>>(t, TypeId::Q2_K);
  set<KTile<KDecQ3_K>>(t, TypeId::Q3_K);
  set<KTile<KDecQ4_K>>(t, TypeId::Q4_K);
  set<KTile<KDecQ5_K>>(t, TypeId::Q5_K);
  set<KTile<KDecQ6_K>>(t, TypeId::Q6_K);
}

}  // namespace qinfer::kernels
