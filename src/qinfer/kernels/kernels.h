// CPU kernels behind one dispatch table, chosen once at start-up from the CPU's
// features (QINFER_ISA=scalar|avx2|avx512|neon|neon_dot pins a path for tests
// and benchmarks). Model code calls only these entry points; it never touches
// intrinsics. One binary per architecture: x86-64 builds carry the AVX paths,
// aarch64 builds the NEON ones, and each picks at run time within its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qinfer/quant/type_id.h"

namespace qinfer::kernels {

// Append only (tests and results name them).
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3, NeonDot = 4 };
inline constexpr int kIsaCount = 5;

const char* isa_name(Isa isa);
// Every path compiled into this build, scalar first, in order of preference
// (later is better when supported).
const std::vector<Isa>& all_isas();
// Compiled in and supported by this CPU.
bool isa_supported(Isa isa);
// Best ISA this CPU supports (ignoring QINFER_ISA).
Isa best_supported_isa();
// The ISA in use: QINFER_ISA if set, else the best one. Throws InputError
// (on this and every kernel call) when QINFER_ISA names an unknown path or one
// this CPU cannot run.
Isa active_isa();
// Pins the ISA for this process (tests/benchmarks); throws Error if unsupported.
void set_isa(Isa isa);

// Whether `type` has a dot product and matmul (on every ISA: each falls back
// to the scalar twin), i.e. whether a model may hold weights of that type.
bool has_kernel(TypeId type);

// Converts n floats of activations into `type` (the weight type's vec_dot_type:
// F32 copy, F16, BF16, Q8_0, Q8_1, Q8_K).
void convert_activations(TypeId type, const float* src, void* dst, int64_t n);

// Dot product of one weight row of `wtype` with one activation row already in
// wtype's vec_dot_type, both n elements long.
float vec_dot(TypeId wtype, int64_t n, const void* w_row, const void* x_row);

// Y[t * ldy + r] = dot(W row r, X row t) for r in [r0, r1), t in [0, n_tok).
// W rows are w_stride bytes apart, X rows (in vec_dot_type) x_stride bytes apart.
// Kernels may tile over several rows and tokens to reuse loads.
void matmul_rows(TypeId wtype, int64_t n, const void* W, size_t w_stride, int64_t r0, int64_t r1,
                 const void* X, size_t x_stride, int64_t n_tok, float* Y, int64_t ldy);

}  // namespace qinfer::kernels
