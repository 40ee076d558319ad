// The scale searches shared by ggml's k-quant and weighted legacy quantizers
// (make_qx_quants, make_q3_quants, make_qkx2/3_quants, make_qp_quants), kept
// operation for operation so results are bit-exact with llama.cpp. Internal to
// the quant layer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qinfer::quant_detail {

// ggml's nearest_int: round half to even via the 1.5·2^23 magic constant
// (exact for |v| <= 2^22; outside that it wraps exactly as ggml's does).
inline int nearest_int(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// Groups whose largest magnitude is below this quantize to zero (GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// Symmetric codes L in [0, 2·nmax) (value l − nmax) with the least weighted
// squared error over 19 candidate scales; qw may be null (then the weight is
// chosen by rmse_type: 1 → x², 2 → 1, 3 → |x|, else sqrt|x|). Returns the scale.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);
// Q3_K's symmetric search with x² weights and coordinate-descent refinement.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);
// Asymmetric codes L in [0, nmax] with a min; weights may be null (x²) in the
// qkx3 variant. *the_min receives −min (≥ 0). make_qkx2_quants is the same
// search with mandatory weights (ggml keeps two copies that differ only there).
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);
inline float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                              uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  return make_qkx3_quants(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad);
}
// Whether the 8-lane versions below may run (AVX2; x86 only).
bool kquant_x8_available();
// Eight make_qkx2_quants(32, nmax, x + 32j, weights + 32j, L + 32j, &the_mins[j], ...)
// at once (j < 8), bit-identical; x, weights and L hold 8 × 32 values.
void make_qkx2_quants_x8(const float* x, const float* weights, int nmax, float rmin, float rdelta, int nstep,
                         uint8_t* L, float* scales, float* the_mins);
// Eight make_qx_quants(16, nmax, x + 16j, L + 16j, 1, nullptr) at once, bit-identical.
void make_qx_quants_x8_rmse1(const float* x, int nmax, int8_t* L, float* scales);

// Non-negative codes in [0, nmax] for non-negative x (the sub-block scales and
// mins of the imatrix paths), weighted by quant_weights. Returns the scale.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// Throws InputError when n_per_row is not a multiple of block or any input is
// NaN/Inf (naming the type, row and column), and when an imatrix value is not finite.
void check_quantize_input(const char* type_name, int64_t block, const float* src, int64_t nrows, int64_t n_per_row,
                          const float* imatrix);

// ggml's quantize_<k-type>: checks the input, then quantizes each row with the
// reference quantizer, or the importance-weighted one when imatrix is given.
// Returns the bytes written.
template <typename Block>
size_t quantize_k_rows(const char* type_name, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                       const float* imatrix, void (*ref)(const float*, Block*, int64_t),
                       void (*weighted)(const float*, Block*, int64_t, const float*)) {
  constexpr int64_t kSuperBlock = 256;
  check_quantize_input(type_name, kSuperBlock, src, nrows, n_per_row, imatrix);
  const int64_t nb = n_per_row / kSuperBlock;
  auto* y = static_cast<Block*>(dst);
  for (int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nb) {
    if (imatrix)
      weighted(src, y, n_per_row, imatrix);
    else
      ref(src, y, n_per_row);
  }
  return size_t(nrows * nb) * sizeof(Block);
}

}  // namespace qinfer::quant_detail
