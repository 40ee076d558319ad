// Bookkeeping of the KV cache's blocks (the memory is KvCache's): reference
// counts, the free list, and the prefix index that lets a new sequence share
// blocks already computed for the same tokens.
//
// A block is free (no owner, nothing worth keeping), used (one or more
// owners), or cached (no owner, but it holds published tokens: still
// matchable, and evicted least-recently-released first when allocate() finds
// no free block). Full blocks are found by a key chained over every token
// before them; any published block, full or not, is a copy-on-write source
// for a prompt that continues the same prefix with a common beginning.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace qinfer {

class BlockPool {
 public:
  BlockPool(int n_blocks, int block_size);

  int n_blocks() const { return n_blocks_; }
  int block_size() const { return block_size_; }
  int used() const { return used_; }
  int cached() const { return cached_; }
  int available() const { return n_blocks_ - used_; }  // free + cached
  int refs(int b) const { return ref_[size_t(b)]; }
  bool published(int b) const { return published_[size_t(b)] != 0; }

  // A block with one owner; -1 when every block is used.
  int allocate();
  // One more owner of a used or cached block.
  void retain(int b);
  // One owner fewer; throws Error for a block without owners (a double free).
  void release(int b);

  // The key of a full block of `tokens` following the prefix keyed `parent`
  // (0: the start of a sequence).
  static uint64_t chain(uint64_t parent, const int32_t* tokens, int n);
  // Block b holds n tokens (n <= block_size) after the prefix keyed `parent`.
  // Publishing a block twice, or a full block whose key is already published,
  // changes nothing.
  void publish(int b, uint64_t parent, const int32_t* tokens, int n);

  struct Match {
    std::vector<int32_t> blocks;  // full blocks to share, in order
    std::vector<uint64_t> keys;   // their keys
    int partial = -1;             // block whose first partial_tokens rows continue the match (copy it)
    int partial_tokens = 0;
    int tokens(int block_size) const { return int(blocks.size()) * block_size + partial_tokens; }
  };
  // The longest published prefix of tokens[0..n), at most max_tokens long.
  void match(const int32_t* tokens, int n, int max_tokens, Match& out) const;

  // Checks every invariant (reference counts, lists, indexes); throws Error.
  void check() const;

 private:
  void lru_remove(int b);
  void lru_push(int b);
  void unpublish(int b);

  int n_blocks_, block_size_;
  int used_ = 0, cached_ = 0;
  std::vector<int32_t> ref_;
  std::vector<int32_t> free_;  // stack of free blocks
  // Cached blocks, least recently released first (intrusive list; -1 ends).
  std::vector<int32_t> prev_, next_;
  int lru_head_ = -1, lru_tail_ = -1;
  // Published contents.
  std::vector<char> published_;
  std::vector<uint64_t> parent_, key_;  // key_: 0 unless full
  std::vector<int32_t> n_tok_;
  std::vector<int32_t> tokens_;  // [block][block_size]
  std::unordered_map<uint64_t, int32_t> full_;          // key -> full block
  std::unordered_multimap<uint64_t, int32_t> children_;  // parent key -> published blocks
};

}  // namespace qinfer
