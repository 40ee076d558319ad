// Internal: the per-ISA table of kernel function pointers behind kernels.h.
// Each ISA's file fills the entries it implements on top of its base ISA's
// table (scalar -> avx2 -> avx512 on x86-64, scalar -> neon -> neon_dot on
// aarch64), so a missing fast path falls back cleanly.
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/kernels/attention.h"
#include "qinfer/quant/type_id.h"

namespace qinfer::kernels {

using VecDotFn = float (*)(int64_t n, const void* w_row, const void* x_row);
using MatmulFn = void (*)(int64_t n, const void* W, size_t w_stride, int64_t r0, int64_t r1, const void* X,
                          size_t x_stride, int64_t n_tok, float* Y, int64_t ldy);
using ConvertFn = void (*)(const float* src, void* dst, int64_t n);
using AttentionFn = void (*)(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t scratch_bytes);
// Over weights in the type's packed layout (packed.h): P holds all `rows` rows.
using PackedMatmulFn = void (*)(int64_t n, const void* P, int64_t rows, int64_t r0, int64_t r1, const void* X,
                                size_t x_stride, int64_t n_tok, float* Y, int64_t ldy);

// Indexed by type_slot(id): ggml ids index themselves, qinfer-only ids follow.
struct KernelTable {
  VecDotFn vec_dot[kTypeSlots] = {};    // indexed by the weight type
  MatmulFn matmul[kTypeSlots] = {};     // indexed by the weight type
  ConvertFn convert[kTypeSlots] = {};   // indexed by the activation (vec_dot) type
  AttentionFn attention = nullptr;      // every K/V cache type pair
  PackedMatmulFn matmul_packed[kTypeSlots] = {};  // by weight type; only where packing pays
};

void fill_table_generic(KernelTable& t);
void fill_table_avx2(KernelTable& t);       // kernels_avx2.cpp
void fill_table_avx512(KernelTable& t);     // kernels_avx512.cpp (float types)
void fill_table_avx512vnni(KernelTable& t); // kernels_avx512vnni.cpp (int8 block types)
void fill_table_avx512bf16(KernelTable& t); // kernels_avx512bf16.cpp (BF16 weights with vdpbf16ps)
void fill_packed_kx16_avx512vnni(KernelTable& t);  // kernels_kx16_avx512vnni.cpp (packed k-quants)
void fill_table_neon(KernelTable& t);       // kernels_neon.cpp (ARMv8.0 NEON + FP16 conversions)
void fill_table_neon_dot(KernelTable& t);   // kernels_neon_dot.cpp (int8 block types with SDOT)
void fill_attention_generic(KernelTable& t);  // attention_generic.cpp
void fill_attention_avx2(KernelTable& t);     // attention_avx2.cpp
void fill_attention_avx512(KernelTable& t);   // attention_avx512.cpp
void fill_attention_neon(KernelTable& t);     // attention_neon.cpp (neon and neon_dot)

// Scalar reference dot products (ggml's *_generic twins): per 32-block integer
// sums scaled by d_w·d_x, accumulated in float; float types accumulate in double.
float vec_dot_f32_generic(int64_t n, const void* w, const void* x);
float vec_dot_f16_generic(int64_t n, const void* w, const void* x);
float vec_dot_bf16_generic(int64_t n, const void* w, const void* x);
float vec_dot_q4_0_q8_0_generic(int64_t n, const void* w, const void* x);
float vec_dot_q4_1_q8_1_generic(int64_t n, const void* w, const void* x);
float vec_dot_q5_0_q8_0_generic(int64_t n, const void* w, const void* x);
float vec_dot_q5_1_q8_1_generic(int64_t n, const void* w, const void* x);
float vec_dot_q8_0_q8_0_generic(int64_t n, const void* w, const void* x);
// k-quants with Q8_K activations and IQ4_NL with Q8_0 (kernels_kquant_generic.cpp):
// one exact int32 sum per super-block (block), scaled by d_w·d_x in float.
float vec_dot_q2_k_q8_k_generic(int64_t n, const void* w, const void* x);
float vec_dot_q3_k_q8_k_generic(int64_t n, const void* w, const void* x);
float vec_dot_q4_k_q8_k_generic(int64_t n, const void* w, const void* x);
float vec_dot_q5_k_q8_k_generic(int64_t n, const void* w, const void* x);
float vec_dot_q6_k_q8_k_generic(int64_t n, const void* w, const void* x);
float vec_dot_iq4_nl_q8_0_generic(int64_t n, const void* w, const void* x);

}  // namespace qinfer::kernels
