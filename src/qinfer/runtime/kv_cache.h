// The KV cache's memory: one pool of fixed-size blocks (block_size tokens of
// K and V for every layer and KV head), in the layout the attention kernel
// reads (kernels/attention.h). Which sequence owns which block is kept by
// BlockPool; this class only stores and addresses rows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "qinfer/kernels/attention.h"
#include "qinfer/model/config.h"
#include "qinfer/quant/type_id.h"

namespace qinfer {

struct KvCacheType {
  TypeId k = TypeId::F16;
  TypeId v = TypeId::F16;
};

// "f16", "q8_0", "q4_0" (llama.cpp's -ctk/-ctv names); InputError naming `what` otherwise.
TypeId parse_kv_cache_type(const std::string& name, const std::string& what);

// Bytes of K and V per token, all layers (what `--cache-type` changes).
size_t kv_bytes_per_token(const ModelConfig& c, KvCacheType type);
// A --kv-budget in tokens: "8192" (tokens) or bytes with a unit ("512M",
// "2GiB") over bytes_per_token; 0 for an empty text; InputError otherwise.
int64_t parse_kv_budget_tokens(const std::string& text, size_t bytes_per_token);
// Throws InputError when the model's head dimension does not suit the cache types.
void check_kv_cache_type(const ModelConfig& c, KvCacheType type);

class KvCache {
 public:
  // n_blocks blocks of block_size tokens (a multiple of kernels::kKeyTile).
  KvCache(const ModelConfig& c, KvCacheType type, int block_size, int n_blocks);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Bytes of one block (all layers) of a cache with these parameters: what
  // the constructor allocates per block, for the memory plan.
  static size_t block_bytes_for(const ModelConfig& c, KvCacheType type, int block_size);

  int n_blocks() const { return n_blocks_; }
  int block_size() const { return block_size_; }
  KvCacheType type() const { return type_; }
  size_t bytes_per_token() const { return bytes_per_token_; }
  size_t block_bytes() const { return block_stride_ * size_t(n_layer_); }  // one block, all layers
  size_t total_bytes() const { return block_bytes() * size_t(n_blocks_); }

  // Writes token `slot` of `block` for one layer from roped K and V rows (kv_dim floats each).
  void store(int layer, int block, int slot, const float* k, const float* v);
  // Copies a whole block (every layer): copy-on-write of a shared prefix block.
  void copy_block(int dst, int src);
  // One KV head's rows in one layer, for the sequence whose block table is `blocks`.
  kernels::KvHeadView view(int layer, int kv_head, const int32_t* blocks) const;

 private:
  uint8_t* layer_base(int layer) const { return data_ + size_t(layer) * size_t(n_blocks_) * block_stride_; }

  KvCacheType type_;
  int n_layer_, n_head_kv_, head_dim_, block_size_, n_blocks_;
  size_t k_tile_bytes_, v_row_bytes_;
  size_t k_head_bytes_, v_head_bytes_;  // one head's K tiles / V rows in one block
  size_t block_stride_;                 // one block in one layer: K of every head, then V
  size_t bytes_per_token_;
  uint8_t* data_ = nullptr;  // calloc'd: pages are committed as blocks are first written
};

}  // namespace qinfer
