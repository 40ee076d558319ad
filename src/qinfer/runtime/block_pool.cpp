#include "qinfer/runtime/block_pool.h"

#include <algorithm>
#include <string>

#include "qinfer/core/error.h"

namespace qinfer {

BlockPool::BlockPool(int n_blocks, int block_size)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      ref_(size_t(n_blocks), 0),
      prev_(size_t(n_blocks), -1),
      next_(size_t(n_blocks), -1),
      published_(size_t(n_blocks), 0),
      parent_(size_t(n_blocks), 0),
      key_(size_t(n_blocks), 0),
      n_tok_(size_t(n_blocks), 0),
      tokens_(size_t(n_blocks) * size_t(block_size), 0) {
  if (n_blocks <= 0 || block_size <= 0) throw Error("block pool needs blocks of at least one token");
  free_.reserve(size_t(n_blocks));
  for (int b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // block 0 first
}

uint64_t BlockPool::chain(uint64_t parent, const int32_t* tokens, int n) {
  // splitmix64 steps over the parent key and each token.
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(parent + 0x9e3779b97f4a7c15ull);
  for (int i = 0; i < n; ++i) h = mix(h ^ (uint64_t(uint32_t(tokens[i])) + 0x9e3779b97f4a7c15ull * uint64_t(i + 1)));
  return h ? h : 1;  // 0 means "the start"
}

void BlockPool::lru_remove(int b) {
  const int p = prev_[size_t(b)], n = next_[size_t(b)];
  (p >= 0 ? next_[size_t(p)] : lru_head_) = n;
  (n >= 0 ? prev_[size_t(n)] : lru_tail_) = p;
  prev_[size_t(b)] = next_[size_t(b)] = -1;
  --cached_;
}

void BlockPool::lru_push(int b) {
  prev_[size_t(b)] = lru_tail_;
  next_[size_t(b)] = -1;
  (lru_tail_ >= 0 ? next_[size_t(lru_tail_)] : lru_head_) = b;
  lru_tail_ = b;
  ++cached_;
}

void BlockPool::unpublish(int b) {
  if (!published_[size_t(b)]) return;
  if (key_[size_t(b)]) {
    auto it = full_.find(key_[size_t(b)]);
    if (it != full_.end() && it->second == b) full_.erase(it);
  }
  auto [lo, hi] = children_.equal_range(parent_[size_t(b)]);
  for (auto it = lo; it != hi; ++it)
    if (it->second == b) {
      children_.erase(it);
      break;
    }
  published_[size_t(b)] = 0;
  key_[size_t(b)] = 0;
  n_tok_[size_t(b)] = 0;
}

int BlockPool::allocate() {
  int b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (lru_head_ >= 0) {
    b = lru_head_;
    lru_remove(b);
    unpublish(b);
  } else {
    return -1;
  }
  ref_[size_t(b)] = 1;
  ++used_;
  return b;
}

void BlockPool::retain(int b) {
  if (b < 0 || b >= n_blocks_) throw Error("retain of block " + std::to_string(b) + " outside the pool");
  if (ref_[size_t(b)] == 0) {
    if (!published_[size_t(b)]) throw Error("retain of free block " + std::to_string(b));
    lru_remove(b);
    ++used_;
  }
  ++ref_[size_t(b)];
}

void BlockPool::release(int b) {
  if (b < 0 || b >= n_blocks_) throw Error("release of block " + std::to_string(b) + " outside the pool");
  if (ref_[size_t(b)] <= 0) throw Error("release of block " + std::to_string(b) + ", which has no owner");
  if (--ref_[size_t(b)] > 0) return;
  --used_;
  if (published_[size_t(b)]) lru_push(b);
  else free_.push_back(b);
}

void BlockPool::publish(int b, uint64_t parent, const int32_t* tokens, int n) {
  if (ref_[size_t(b)] <= 0) throw Error("publish of block " + std::to_string(b) + ", which has no owner");
  if (published_[size_t(b)] || n <= 0 || n > block_size_) return;
  uint64_t key = 0;
  if (n == block_size_) {
    key = chain(parent, tokens, n);
    if (full_.count(key)) return;  // the same tokens are already shared from another block
    full_.emplace(key, b);
  }
  published_[size_t(b)] = 1;
  parent_[size_t(b)] = parent;
  key_[size_t(b)] = key;
  n_tok_[size_t(b)] = n;
  std::copy(tokens, tokens + n, tokens_.begin() + ptrdiff_t(size_t(b) * size_t(block_size_)));
  children_.emplace(parent, b);
}

void BlockPool::match(const int32_t* tokens, int n, int max_tokens, Match& out) const {
  out.blocks.clear();
  out.keys.clear();
  out.partial = -1;
  out.partial_tokens = 0;
  const int limit = std::min(n, max_tokens);
  const int B = block_size_;
  uint64_t parent = 0;
  int done = 0;
  while (done + B <= limit) {
    const uint64_t key = chain(parent, tokens + done, B);
    auto it = full_.find(key);
    if (it == full_.end()) break;
    const int32_t* have = &tokens_[size_t(it->second) * size_t(B)];
    if (!std::equal(have, have + B, tokens + done)) break;  // a hash collision: not the same tokens
    out.blocks.push_back(it->second);
    out.keys.push_back(key);
    parent = key;
    done += B;
  }
  const int rest = limit - done;
  if (rest <= 0) return;
  auto [lo, hi] = children_.equal_range(parent);
  for (auto it = lo; it != hi; ++it) {
    const int b = it->second;
    const int32_t* have = &tokens_[size_t(b) * size_t(B)];
    const int len = std::min(rest, int(n_tok_[size_t(b)]));
    int common = 0;
    while (common < len && have[common] == tokens[done + common]) ++common;
    if (common > out.partial_tokens) {
      out.partial = b;
      out.partial_tokens = common;
    }
  }
}

void BlockPool::check() const {
  int used = 0, cached = 0;
  std::vector<char> seen(size_t(n_blocks_), 0);
  for (int b : free_) {
    if (b < 0 || b >= n_blocks_ || seen[size_t(b)]) throw Error("free list holds block " + std::to_string(b) + " twice or out of range");
    if (ref_[size_t(b)] != 0) throw Error("free block " + std::to_string(b) + " has owners");
    if (published_[size_t(b)]) throw Error("free block " + std::to_string(b) + " is published");
    seen[size_t(b)] = 1;
  }
  for (int b = lru_head_, prev = -1; b >= 0; prev = b, b = next_[size_t(b)]) {
    if (seen[size_t(b)]) throw Error("cached block " + std::to_string(b) + " is also free or listed twice");
    if (prev_[size_t(b)] != prev) throw Error("cached list is broken at block " + std::to_string(b));
    if (ref_[size_t(b)] != 0 || !published_[size_t(b)]) throw Error("cached block " + std::to_string(b) + " is not ownerless and published");
    seen[size_t(b)] = 2;
    ++cached;
  }
  for (int b = 0; b < n_blocks_; ++b) {
    if (ref_[size_t(b)] < 0) throw Error("block " + std::to_string(b) + " has a negative count");
    if (ref_[size_t(b)] > 0) {
      if (seen[size_t(b)]) throw Error("used block " + std::to_string(b) + " is also free or cached");
      ++used;
    } else if (!seen[size_t(b)]) {
      throw Error("block " + std::to_string(b) + " is lost (no owner, not free, not cached)");
    }
  }
  if (used != used_ || cached != cached_) throw Error("block counts disagree with the lists");
  for (const auto& [key, b] : full_)
    if (!published_[size_t(b)] || key_[size_t(b)] != key) throw Error("prefix index points at a stale block");
  size_t published = 0;
  for (char p : published_) published += p ? 1 : 0;
  if (children_.size() != published) throw Error("prefix index and published blocks disagree");
}

}  // namespace qinfer
