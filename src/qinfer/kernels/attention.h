// Attention of a tile of query rows of one sequence against that sequence's
// cached keys and values, which live in fixed-size blocks of a KV pool (the
// sequence's block table), with an online softmax. K/V may be F16, Q8_0 or
// Q4_0, independently.
//
// Layout inside a pool block (per layer and KV head), chosen for the kernel:
//   K: tiles of kKeyTile keys, each stored key-minor so that one vector load
//      gives one element (F16) or one 4-code group (Q8_0/Q4_0) of all 16 keys:
//        F16  [head_dim][16] halves
//        Q8_0 per 32-element block: d[16] halves, then qs[8 groups][16 keys][4]
//        Q4_0 per 32-element block: d[16] halves, then qs[4 dwords][16 keys][4]
//             (dword k of ggml's block_q4_0: low nibbles = elements 4k..4k+3,
//              high nibbles = elements 16+4k..16+4k+3)
//   V: one row of head_dim elements per key, in the V type (ggml's blocks).
//
// Arithmetic, identical on every ISA (the SIMD paths equal the scalar one bit
// for bit; tests check it), and independent of how rows are grouped into
// tiles and of the pool's block size (the kernel walks keys in steps of
// kKeyTile aligned to absolute positions):
//   - F16 K: Q is rounded to F16 (as llama.cpp does for an F16 cache);
//     q·k = (c0 + c1) + (c2 + c3), where chain c_i = fma-sum over d ≡ i (mod 4).
//   - Q8_0/Q4_0 K: Q is quantized to Q8_0 (as llama.cpp); per 32-block the
//     exact integer sum, then s = fma(float(isum), d_k·d_q, s) block by block.
//   - score = dot · scale.
//   - F16 V, as llama.cpp without flash attention (its perplexity goldens):
//     all scores of the row, p = exp_approx(score − max) 16 keys at a time,
//     each group's halving-tree sum added in double, p ·= 1/sum, p rounded to
//     F16; out += p_j · v_j (multiply, then add) key by key.
//   - Q8_0/Q4_0 V, online softmax (llama.cpp needs flash attention for a
//     quantized V): per step: m' = max(m, scores), rescale by exp(m − m'),
//     p = exp(score − m'), l += Σp (halving tree over 16 keys),
//     acc = fma(p_j, v_j, acc) key by key; out = acc · (1 / l); exp is one
//     polynomial (kernels::exp_approx), 0 below −87.
#pragma once
#include <cstddef>
#include <cstdint>

#include "qinfer/quant/type_id.h"

namespace qinfer::kernels {

constexpr int kKeyTile = 16;

// F16, Q8_0 and Q4_0 are the cache types the kernel reads.
bool is_kv_cache_type(TypeId t);
// Empty when `t` can hold K/V rows of head_dim elements, else why not.
const char* kv_type_problem(TypeId t, int head_dim);

// Bytes of one K tile (kKeyTile keys of one head) and of one V row (one key, one head).
size_t k_tile_bytes(TypeId t, int head_dim);
size_t v_row_bytes(TypeId t, int head_dim);

// Writes key j (0..kKeyTile-1) of a K tile, or one V row, from head_dim floats.
void store_k(TypeId t, int head_dim, const float* k, void* tile, int j);
void store_v(TypeId t, int head_dim, const float* v, void* row);
// Reads key j of a K tile back as floats (tests and diagnostics).
void load_k(TypeId t, int head_dim, const void* tile, int j, float* k);

// One KV head of one sequence in one layer. Key p lives in pool block
// b = blocks[p / block_size]: its K tile at k_base + b·block_stride +
// (p % block_size / kKeyTile)·k_tile_bytes, its V row at v_base +
// b·block_stride + (p % block_size)·v_row_bytes.
struct KvHeadView {
  TypeId k_type = TypeId::F16, v_type = TypeId::F16;
  int head_dim = 0;
  const uint8_t* k_base = nullptr;
  const uint8_t* v_base = nullptr;
  size_t block_stride = 0;
  const int32_t* blocks = nullptr;
  int block_size = 0;  // keys per pool block, a multiple of kKeyTile
};

// Query rows: n_tok consecutive tokens of the sequence × n_heads query heads
// that share the KV head. Token t sits at position pos0 + t and sees keys
// 0..pos0 + t. Row (t, h) reads head_dim floats at q + t·stride + h·head_dim
// (roped) and writes the same place of out.
struct AttentionRows {
  const float* q = nullptr;
  float* out = nullptr;
  int64_t stride = 0;
  int n_tok = 0;
  int n_heads = 0;
  int pos0 = 0;
  float scale = 1.0f;
};

// Scratch one call needs for up to max_rows rows (n_tok · n_heads) seeing up
// to max_keys keys (an F16 V cache keeps every score of a row).
size_t attention_scratch_bytes(int head_dim, int max_rows, int max_keys);

// Throws Error when the rows exceed what the scratch was sized for or the
// types are not cache types. Allocates nothing.
void attention(const KvHeadView& kv, const AttentionRows& rows, void* scratch, size_t scratch_bytes);

// The exp every attention path uses (scalar form): |rel err| < 2e-7 on
// [−87, 0]; 0 below −87 (and for −inf).
float exp_approx(float x);

}  // namespace qinfer::kernels
