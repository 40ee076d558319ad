// ARMv8.0 Advanced SIMD (NEON) kernels: baseline on every aarch64 CPU, so this
// path needs no extension (FP16<->FP32 conversion is part of it). Everything
// here has internal linkage, like the x86 ISA files. The int8 block types
// without the dot-product extension: widening multiplies (neon_blocks.inc).
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qinfer/core/fp16.h"
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

#define QINFER_NEON_DOT 0

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/neon_blocks.inc"
#include "qinfer/kernels/neon_kquant.inc"
#include "qinfer/kernels/tile_driver.inc"
#include "qinfer/kernels/neon_table.inc"

// Float types: 2 rows × 2 tokens: 16 accumulators + 8 loaded weight vectors.
template <class Tile>
void set_f(KernelTable& t, TypeId id) {
  t.vec_dot[uint32_t(id)] = vec_dot_tiled<Tile>;
  t.matmul[uint32_t(id)] = matmul_tiled<Tile, 2, 2>;
}

}  // namespace

void fill_table_neon(KernelTable& t) {
  set_f<FloatTile<LdF32>>(t, TypeId::F32);
  set_f<FloatTile<LdF16>>(t, TypeId::F16);
  set_f<FloatTile<LdBF16>>(t, TypeId::BF16);
  fill_int8_types(t);
}

}  // namespace qinfer::kernels
