#include "qinfer/runtime/kv_cache.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

TypeId parse_kv_cache_type(const std::string& name, const std::string& what) {
  if (name == "f16") return TypeId::F16;
  if (name == "q8_0") return TypeId::Q8_0;
  if (name == "q4_0") return TypeId::Q4_0;
  throw InputError(what + " " + name + ": expected f16, q8_0 or q4_0");
}

void check_kv_cache_type(const ModelConfig& c, KvCacheType type) {
  for (TypeId t : {type.k, type.v}) {
    const char* problem = kernels::kv_type_problem(t, c.head_dim);
    if (*problem)
      throw InputError(std::string("KV cache type ") + type_info(t).name + " for a model with head dimension " +
                       std::to_string(c.head_dim) + ": " + problem);
  }
}

size_t kv_bytes_per_token(const ModelConfig& c, KvCacheType type) {
  check_kv_cache_type(c, type);
  const size_t k = kernels::k_tile_bytes(type.k, c.head_dim) / kernels::kKeyTile;
  const size_t v = kernels::v_row_bytes(type.v, c.head_dim);
  return (k + v) * size_t(c.n_head_kv) * size_t(c.n_layer);
}

int64_t parse_kv_budget_tokens(const std::string& s, size_t bytes_per_token) {
  if (s.empty()) return 0;
  // Digits alone are tokens; anything else is bytes, spelt as every size flag.
  const bool tokens_given = s.find_first_not_of("0123456789") == std::string::npos;
  if (tokens_given && s.size() > 12)
    throw InputError("--kv-budget " + s + ": expected tokens (8192) or bytes with a unit (512M, 2GiB)");
  const uint64_t n = tokens_given ? std::stoull(s) : parse_byte_size(s, "--kv-budget") / bytes_per_token;
  if (n < 1) throw InputError("--kv-budget " + s + " holds less than one token of KV cache");
  if (n > uint64_t(1) << 40) throw InputError("--kv-budget " + s + ": more tokens than any cache can hold");
  return int64_t(n);
}

namespace {

// One block in one layer: K tiles of every head, then V rows of every head.
size_t block_stride(const ModelConfig& c, KvCacheType type, int block_size) {
  const size_t k_head = kernels::k_tile_bytes(type.k, c.head_dim) * size_t(block_size / kernels::kKeyTile);
  const size_t v_head = kernels::v_row_bytes(type.v, c.head_dim) * size_t(block_size);
  return (k_head + v_head) * size_t(c.n_head_kv);
}

void check_block_size(int block_size) {
  if (block_size <= 0 || block_size % kernels::kKeyTile != 0)
    throw InputError("KV block size " + std::to_string(block_size) + " is not a positive multiple of " +
                     std::to_string(kernels::kKeyTile));
}

}  // namespace

size_t KvCache::block_bytes_for(const ModelConfig& c, KvCacheType type, int block_size) {
  check_kv_cache_type(c, type);
  check_block_size(block_size);
  return block_stride(c, type, block_size) * size_t(c.n_layer);
}

KvCache::KvCache(const ModelConfig& c, KvCacheType type, int block_size, int n_blocks)
    : type_(type),
      n_layer_(c.n_layer),
      n_head_kv_(c.n_head_kv),
      head_dim_(c.head_dim),
      block_size_(block_size),
      n_blocks_(n_blocks) {
  check_kv_cache_type(c, type);
  check_block_size(block_size);
  if (n_blocks <= 0) throw InputError("the KV cache needs at least one block");
  k_tile_bytes_ = kernels::k_tile_bytes(type.k, head_dim_);
  v_row_bytes_ = kernels::v_row_bytes(type.v, head_dim_);
  k_head_bytes_ = k_tile_bytes_ * size_t(block_size / kernels::kKeyTile);
  v_head_bytes_ = v_row_bytes_ * size_t(block_size);
  block_stride_ = block_stride(c, type, block_size);
  bytes_per_token_ = kv_bytes_per_token(c, type);
  // calloc of a large size maps fresh zero pages without touching them, so the
  // resident size grows with the blocks in use, not with the budget.
  data_ = static_cast<uint8_t*>(std::calloc(size_t(n_blocks_) * size_t(n_layer_), block_stride_));
  if (!data_)
    throw InputError("cannot allocate a KV cache of " + std::to_string(total_bytes() >> 20) +
                     " MiB (lower --kv-budget or the context)");
}

KvCache::~KvCache() { std::free(data_); }

void KvCache::store(int layer, int block, int slot, const float* k, const float* v) {
  uint8_t* b = layer_base(layer) + size_t(block) * block_stride_;
  for (int h = 0; h < n_head_kv_; ++h) {
    uint8_t* tile = b + size_t(h) * k_head_bytes_ + size_t(slot / kernels::kKeyTile) * k_tile_bytes_;
    kernels::store_k(type_.k, head_dim_, k + size_t(h) * head_dim_, tile, slot % kernels::kKeyTile);
    uint8_t* row = b + size_t(n_head_kv_) * k_head_bytes_ + size_t(h) * v_head_bytes_ + size_t(slot) * v_row_bytes_;
    kernels::store_v(type_.v, head_dim_, v + size_t(h) * head_dim_, row);
  }
}

void KvCache::copy_block(int dst, int src) {
  if (dst == src) return;
  for (int l = 0; l < n_layer_; ++l)
    std::memcpy(layer_base(l) + size_t(dst) * block_stride_, layer_base(l) + size_t(src) * block_stride_, block_stride_);
}

kernels::KvHeadView KvCache::view(int layer, int kv_head, const int32_t* blocks) const {
  kernels::KvHeadView v;
  v.k_type = type_.k;
  v.v_type = type_.v;
  v.head_dim = head_dim_;
  v.k_base = layer_base(layer) + size_t(kv_head) * k_head_bytes_;
  v.v_base = layer_base(layer) + size_t(n_head_kv_) * k_head_bytes_ + size_t(kv_head) * v_head_bytes_;
  v.block_stride = block_stride_;
  v.blocks = blocks;
  v.block_size = block_size_;
  return v;
}

}  // namespace qinfer
