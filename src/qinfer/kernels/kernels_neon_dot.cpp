// NEON kernels with the ARMv8.2 dot-product extension (SDOT; compiled with
// -march=armv8.2-a+dotprod, only called when HWCAP says asimddp): the int8
// block types and k-quants of neon_blocks.inc and neon_kquant.inc with
// vdotq_s32; the float types are the neon table's (no gain from the extension).
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

#define QINFER_NEON_DOT 1

namespace qinfer::kernels {
namespace {

#include "qinfer/kernels/neon_blocks.inc"
#include "qinfer/kernels/neon_kquant.inc"
#include "qinfer/kernels/tile_driver.inc"
#include "qinfer/kernels/neon_table.inc"

}  // namespace

void fill_table_neon_dot(KernelTable& t) { fill_int8_types(t); }

}  // namespace qinfer::kernels
