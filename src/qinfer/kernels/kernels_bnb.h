// Internal to kernels/: what the per-ISA files of qinfer's own types (NF4,
// FP4, INT8; kernels_bnb_*.cpp) share.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "qinfer/kernels/kernel_table.h"

namespace qinfer::kernels {

// One activation row quantized for INT8: codes and outlier indices. One per
// thread, grown to the widest row seen (no allocation once warm).
struct Int8Scratch {
  std::vector<int8_t> q;
  std::vector<int32_t> outliers;
};
Int8Scratch& int8_scratch(int64_t n);
// The activation outlier threshold stored in an INT8 weight row.
float int8_threshold(const void* w_row);

float vec_dot_nf4_f32_generic(int64_t n, const void* w, const void* x);
float vec_dot_fp4_f32_generic(int64_t n, const void* w, const void* x);
float vec_dot_int4_f32_generic(int64_t n, const void* w, const void* x);
float vec_dot_int8_f32_generic(int64_t n, const void* w, const void* x);
void matmul_int8_generic(int64_t n, const void* W, size_t ws, int64_t r0, int64_t r1, const void* X, size_t xs,
                         int64_t n_tok, float* Y, int64_t ldy);

void fill_table_bnb_generic(KernelTable& t);
void fill_table_bnb_avx2(KernelTable& t);    // kernels_bnb_avx2.cpp
void fill_table_bnb_avx512(KernelTable& t);  // kernels_bnb_avx512.cpp
void fill_table_bnb_neon(KernelTable& t);    // kernels_bnb_neon.cpp

}  // namespace qinfer::kernels
