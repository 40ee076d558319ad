// What a Context or an Engine allocates for given parameters, from their own
// arithmetic (Forward::buffer_bytes, KvCache::block_bytes_for and the block
// counts they size their pools with): the memory plan (`qinfer plan`, the
// fit check before loading) asks here instead of re-deriving any of it.
#pragma once
#include <cstddef>

namespace qinfer {

struct RuntimeMemory {
  int n_ctx = 0;       // positions per sequence, as resolved
  int n_seqs = 1;      // sequences the KV pool holds at once
  int max_tokens = 0;  // tokens per forward pass
  int n_threads = 0;   // as resolved
  int kv_block = 0;    // tokens per KV block
  int kv_blocks = 0;   // blocks in the pool
  size_t kv_bytes_per_token = 0;
  size_t kv_block_bytes = 0;  // one block, every layer
  size_t kv_bytes = 0;        // the whole pool: resident once every block was written
  size_t forward_bytes = 0;   // the forward pass's activations, attention scratch, RoPE table
  size_t logits_bytes = 0;    // logits rows kept (and the engine's sampling scratch)
  size_t buffer_bytes() const { return forward_bytes + logits_bytes; }
};

}  // namespace qinfer
