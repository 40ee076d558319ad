// Scalar attention: the reference the SIMD paths must equal bit for bit, the
// fallback without AVX2, and the cache layout (store/load of K tiles and V rows).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/kernels/attention.h"
#include "qinfer/kernels/kernel_table.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/q4_0.h"
#include "qinfer/quant/q8_0.h"

namespace qinfer::kernels {

namespace {
constexpr int kMaxHeadDim = 1024;
#include "qinfer/kernels/attention_scalar_ops.inc"
}  // namespace

bool is_kv_cache_type(TypeId t) { return t == TypeId::F16 || t == TypeId::Q8_0 || t == TypeId::Q4_0; }

const char* kv_type_problem(TypeId t, int head_dim) {
  if (!is_kv_cache_type(t)) return "only f16, q8_0 and q4_0 caches are supported";
  if (head_dim <= 0 || head_dim > kMaxHeadDim) return "the head dimension is outside 1..1024";
  if (t != TypeId::F16 && head_dim % 32 != 0)
    return "the head dimension is not a multiple of the 32-element block (as in llama.cpp, use f16)";
  return "";
}

size_t k_tile_bytes(TypeId t, int hd) {
  switch (t) {
    case TypeId::F16: return size_t(hd) * kKeyTile * 2;
    case TypeId::Q8_0: return size_t(hd / 32) * kKeyTile * sizeof(BlockQ8_0);
    case TypeId::Q4_0: return size_t(hd / 32) * kKeyTile * sizeof(BlockQ4_0);
    default: throw Error("not a KV cache type");
  }
}

size_t v_row_bytes(TypeId t, int hd) {
  if (!is_kv_cache_type(t)) throw Error("not a KV cache type");
  return t == TypeId::F16 ? size_t(hd) * 2 : row_size(t, hd);
}


void store_k(TypeId t, int hd, const float* k, void* tile, int j) {
  auto* out = static_cast<uint8_t*>(tile);
  if (t == TypeId::F16) {
    auto* h = reinterpret_cast<uint16_t*>(out);
    for (int d = 0; d < hd; ++d) h[d * kKeyTile + j] = f32_to_fp16(k[d]);
    return;
  }
  const int nb = hd / 32;
  const size_t bb = k_block_bytes(t);
  if (t == TypeId::Q8_0) {
    BlockQ8_0 q[kMaxHeadDim / 32];
    quantize_row_q8_0_x86(k, q, hd);  // what ggml's CPU backend writes into a q8_0 cache
    for (int b = 0; b < nb; ++b) {
      uint8_t* tb = out + size_t(b) * bb;
      std::memcpy(tb + 2 * j, &q[b].d, 2);
      for (int g = 0; g < 8; ++g) std::memcpy(tb + kScales + size_t(g) * 64 + size_t(j) * 4, q[b].qs + 4 * g, 4);
    }
  } else {
    BlockQ4_0 q[kMaxHeadDim / 32];
    quantize_row_q4_0_ref(k, q, hd);
    for (int b = 0; b < nb; ++b) {
      uint8_t* tb = out + size_t(b) * bb;
      std::memcpy(tb + 2 * j, &q[b].d, 2);
      for (int g = 0; g < 4; ++g) std::memcpy(tb + kScales + size_t(g) * 64 + size_t(j) * 4, q[b].qs + 4 * g, 4);
    }
  }
}

void load_k(TypeId t, int hd, const void* tile, int j, float* k) {
  const auto* in = static_cast<const uint8_t*>(tile);
  if (t == TypeId::F16) {
    const auto* h = reinterpret_cast<const uint16_t*>(in);
    for (int d = 0; d < hd; ++d) k[d] = fp16_to_f32(h[d * kKeyTile + j]);
    return;
  }
  const size_t bb = k_block_bytes(t);
  for (int b = 0; b < hd / 32; ++b) {
    const uint8_t* tb = in + size_t(b) * bb;
    uint16_t dh;
    std::memcpy(&dh, tb + 2 * j, 2);
    const float d = fp16_to_f32(dh);
    for (int e = 0; e < 32; ++e) {
      int code;
      if (t == TypeId::Q8_0) {
        code = int8_t(tb[kScales + size_t(e / 4) * 64 + size_t(j) * 4 + e % 4]);
      } else {
        const int byte = e % 16;  // ggml's q4_0: byte i holds elements i (low) and i + 16 (high)
        const uint8_t v = tb[kScales + size_t(byte / 4) * 64 + size_t(j) * 4 + byte % 4];
        code = (e < 16 ? v & 0x0F : v >> 4) - 8;
      }
      k[b * 32 + e] = d * float(code);
    }
  }
}

void store_v(TypeId t, int hd, const float* v, void* row) {
  switch (t) {
    case TypeId::F16: {
      auto* h = static_cast<uint16_t*>(row);
      for (int d = 0; d < hd; ++d) h[d] = f32_to_fp16(v[d]);
      return;
    }
    case TypeId::Q8_0: quantize_row_q8_0_x86(v, static_cast<BlockQ8_0*>(row), hd); return;
    case TypeId::Q4_0: quantize_row_q4_0_ref(v, static_cast<BlockQ4_0*>(row), hd); return;
    default: throw Error("not a KV cache type");
  }
}

// exp as a Cephes-style polynomial on r = x − n·ln2, scaled by 2^n through the
// exponent bits; every SIMD path repeats these operations in this order.
float exp_approx(float x) {
  if (x < -86.0f) return 0.0f;  // keeps 2^n a normal number; exp(-86) < 5e-38
  x = std::min(x, 88.0f);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fma(n, -0.693359375f, x);
  r = std::fma(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  const float r2 = r * r;
  p = std::fma(p, r2, r);
  p = p + 1.0f;
  const uint32_t bits = f32_to_bits(p) + (uint32_t(int32_t(n)) << 23);
  return bits_to_f32(bits);
}

namespace {

#include "qinfer/kernels/attention_driver.inc"

void attention_scalar(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t bytes) {
  attention_run<ScalarOps>(kv, rows, scratch, bytes);
}

}  // namespace

size_t attention_scratch_bytes(int head_dim, int max_rows, int max_keys) {
  return attn_carve(nullptr, head_dim, std::max(1, max_rows), std::max(0, max_keys), nullptr);
}

void fill_attention_generic(KernelTable& t) { t.attention = attention_scalar; }

}  // namespace qinfer::kernels
