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
}

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

// Per 32-block of a quantized K tile: 16 scales, then the codes (see attention.h).
namespace {
constexpr size_t kScales = kKeyTile * 2;
size_t k_block_bytes(TypeId t) { return kKeyTile * (t == TypeId::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0)); }
}  // namespace

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

// Sum of 16 values by halving: [i]+[i+8], then [i]+[i+4], [i]+[i+2], [0]+[1].
float tree16(const float* v) {
  float a[8];
  for (int i = 0; i < 8; ++i) a[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; ++i) a[i] = a[i] + a[i + 4];
  for (int i = 0; i < 2; ++i) a[i] = a[i] + a[i + 2];
  return a[0] + a[1];
}

struct ScalarOps {
  static void k_to_float(const uint8_t* tile, int hd, float* kf) {
    const auto* h = reinterpret_cast<const uint16_t*>(tile);
    for (int i = 0; i < hd * kKeyTile; ++i) kf[i] = fp16_to_f32(h[i]);
  }
  static void v_to_float(TypeId t, const uint8_t* row0, size_t rb, int n, int hd, float* vf) {
    for (int j = 0; j < n; ++j) {
      const uint8_t* row = row0 + size_t(j) * rb;
      float* out = vf + size_t(j) * hd;
      if (t == TypeId::F16) {
        const auto* h = reinterpret_cast<const uint16_t*>(row);
        for (int d = 0; d < hd; ++d) out[d] = fp16_to_f32(h[d]);
      } else if (t == TypeId::Q8_0) {
        const auto* b = reinterpret_cast<const BlockQ8_0*>(row);
        for (int d = 0; d < hd; ++d) out[d] = fp16_to_f32(b[d / 32].d) * float(b[d / 32].qs[d % 32]);
      } else {
        const auto* b = reinterpret_cast<const BlockQ4_0*>(row);
        for (int d = 0; d < hd; ++d) {
          const uint8_t v = b[d / 32].qs[d % 16];
          const int code = (d % 32 < 16 ? v & 0x0F : v >> 4) - 8;
          out[d] = fp16_to_f32(b[d / 32].d) * float(code);
        }
      }
    }
  }
  static void qk_f16(const float* qf, int hd, const float* kf, float* s) {
    for (int j = 0; j < kKeyTile; ++j) {
      float c[4] = {0, 0, 0, 0};
      for (int d = 0; d < hd; ++d) c[d % 4] = std::fma(qf[d], kf[d * kKeyTile + j], c[d % 4]);
      s[j] = (c[0] + c[1]) + (c[2] + c[3]);
    }
  }
  static void qk_quant(TypeId t, const BlockQ8_0* q, const int32_t* qsum, int hd, const uint8_t* tile, float* s) {
    const size_t bb = k_block_bytes(t);
    for (int j = 0; j < kKeyTile; ++j) {
      float acc = 0.0f;
      for (int b = 0; b < hd / 32; ++b) {
        const uint8_t* tb = tile + size_t(b) * bb;
        uint16_t dh;
        std::memcpy(&dh, tb + 2 * j, 2);
        int32_t isum = 0;
        for (int e = 0; e < 32; ++e) {
          int code;
          if (t == TypeId::Q8_0) {
            code = int8_t(tb[kScales + size_t(e / 4) * 64 + size_t(j) * 4 + e % 4]);
          } else {
            const int g = e / 4;  // elements 4g..4g+3: dword g % 4, low nibbles for g < 4
            const uint8_t v = tb[kScales + size_t(g % 4) * 64 + size_t(j) * 4 + e % 4];
            code = (g < 4 ? v & 0x0F : v >> 4) - 8;
          }
          isum += code * q[b].qs[e];
        }
        (void)qsum;
        acc = std::fma(float(isum), fp16_to_f32(dh) * fp16_to_f32(q[b].d), acc);
      }
      s[j] = acc;
    }
  }
  static void update(float* s, int nk, float scale, float& m, float& l, float* acc, const float* vf, int hd) {
    float mx = -INFINITY;
    for (int j = 0; j < kKeyTile; ++j) {
      s[j] = j < nk ? s[j] * scale : -INFINITY;
      mx = std::max(mx, s[j]);
    }
    if (mx > m) {
      const float alpha = exp_approx(m - mx);
      l = l * alpha;
      for (int d = 0; d < hd; ++d) acc[d] = acc[d] * alpha;
      m = mx;
    }
    for (int j = 0; j < kKeyTile; ++j) s[j] = j < nk ? exp_approx(s[j] - m) : 0.0f;
    l = l + tree16(s);
    accumulate(s, nk, acc, vf, hd);
  }
  static void accumulate(const float* s, int nk, float* acc, const float* vf, int hd) {
    for (int j = 0; j < nk; ++j)
      for (int d = 0; d < hd; ++d) acc[d] = std::fma(s[j], vf[size_t(j) * hd + d], acc[d]);
  }
  // kernels::vec_dot's F16 reference (vec_dot_f16_generic): float products summed in double.
  static void qk_f16_dot(const float* qf, int hd, const uint8_t* tile, float* s) {
    const auto* h = reinterpret_cast<const uint16_t*>(tile);
    for (int j = 0; j < kKeyTile; ++j) {
      double sum = 0;
      for (int d = 0; d < hd; ++d) sum += double(fp16_to_f32(h[d * kKeyTile + j]) * qf[d]);
      s[j] = float(sum);
    }
  }
  // No FMA (-ffp-contract=off for this file): ggml's F16-V product, multiply then add.
  static void mul_add(const float* p, int nk, float* acc, const float* vf, int hd) {
    for (int j = 0; j < nk; ++j) {
      const float pj = p[j];
      const float* v = vf + size_t(j) * hd;
      for (int d = 0; d < hd; ++d) acc[d] += pj * v[d];
    }
  }
  static void finish(const float* acc, float l, int hd, float* out) {
    const float inv = 1.0f / l;
    for (int d = 0; d < hd; ++d) out[d] = acc[d] * inv;
  }
};

void attention_scalar(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t bytes) {
  attention_run<ScalarOps>(kv, rows, scratch, bytes);
}

}  // namespace

size_t attention_scratch_bytes(int head_dim, int max_rows, int max_keys) {
  return attn_carve(nullptr, head_dim, std::max(1, max_rows), std::max(0, max_keys), nullptr);
}

void fill_attention_generic(KernelTable& t) { t.attention = attention_scalar; }

}  // namespace qinfer::kernels
