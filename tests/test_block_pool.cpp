// BlockPool against a reference model of the pool: 1,000 random sequences of
// allocate / share / release / publish / match never leak or double-free a
// block, never hand out a block that has an owner, and end with every block
// back (free or cached). Also run under ASan/UBSan (label sanitize).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/runtime/block_pool.h"

using namespace qinfer;

namespace {

// What the pool must look like from outside: the owners of every block.
struct Reference {
  explicit Reference(int n) : refs(size_t(n), 0) {}
  std::vector<int> refs;
  int used() const {
    int u = 0;
    for (int r : refs) u += r > 0;
    return u;
  }
};

// A simulated sequence: the blocks it owns.
struct Owner {
  std::vector<int32_t> blocks;
};

}  // namespace

TEST(BlockPool, RandomOperationsAgainstReferenceModel) {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 1000; ++round) {
    const int n_blocks = 1 + int(rng() % 24), bs = 1 + int(rng() % 4);
    BlockPool pool(n_blocks, bs);
    Reference ref(n_blocks);
    std::vector<Owner> owners;
    const int ops = 10 + int(rng() % 60);
    for (int op = 0; op < ops; ++op) {
      const int kind = int(rng() % 5);
      if (kind == 0 || owners.empty()) {  // a new owner takes up to 4 blocks
        Owner o;
        const int want = 1 + int(rng() % 4);
        for (int i = 0; i < want; ++i) {
          const int expect_available = n_blocks - ref.used();
          const int b = pool.allocate();
          if (expect_available == 0) {
            ASSERT_EQ(b, -1) << "allocated with no block available";
            break;
          }
          ASSERT_GE(b, 0);
          ASSERT_EQ(ref.refs[size_t(b)], 0) << "block " << b << " handed out while owned";
          ref.refs[size_t(b)] = 1;
          o.blocks.push_back(b);
        }
        owners.push_back(o);
      } else if (kind == 1) {  // an owner shares another owner's block (prefix reuse)
        Owner& a = owners[rng() % owners.size()];
        Owner& b = owners[rng() % owners.size()];
        if (!a.blocks.empty()) {
          const int32_t blk = a.blocks[rng() % a.blocks.size()];
          pool.retain(blk);
          ++ref.refs[size_t(blk)];
          b.blocks.push_back(blk);
        }
      } else if (kind == 2) {  // an owner finishes or is cancelled
        const size_t i = rng() % owners.size();
        for (int32_t blk : owners[i].blocks) {
          pool.release(blk);
          --ref.refs[size_t(blk)];
        }
        owners.erase(owners.begin() + ptrdiff_t(i));
      } else if (kind == 3) {  // an owner publishes one of its blocks (few distinct contents: duplicates happen)
        Owner& o = owners[rng() % owners.size()];
        if (!o.blocks.empty()) {
          const int32_t blk = o.blocks[rng() % o.blocks.size()];
          std::vector<int32_t> toks(static_cast<size_t>(bs));
          for (auto& t : toks) t = int32_t(rng() % 3);
          const int n = 1 + int(rng() % bs);
          const uint64_t parent = rng() % 2 ? 0 : BlockPool::chain(0, toks.data(), bs);
          const bool was = pool.published(blk);
          pool.publish(blk, parent, toks.data(), n);
          if (!was && parent == 0) {  // matchable from the start now (by it, or an equal full block)
            BlockPool::Match m;
            pool.match(toks.data(), n, n, m);
            EXPECT_EQ(m.tokens(bs), n);
          }
        }
      } else {  // a new owner reuses a cached block through a match
        std::vector<int32_t> toks(size_t(bs) * 2);
        for (auto& t : toks) t = int32_t(rng() % 3);
        BlockPool::Match m;
        pool.match(toks.data(), int(toks.size()), int(toks.size()), m);
        Owner o;
        for (int32_t blk : m.blocks) {
          ASSERT_NO_THROW(pool.retain(blk)) << "matched a free block " << blk;
          ++ref.refs[size_t(blk)];
          o.blocks.push_back(blk);
        }
        owners.push_back(o);
      }
      ASSERT_NO_THROW(pool.check()) << "round " << round << " op " << op;
      for (int b = 0; b < n_blocks; ++b) ASSERT_EQ(pool.refs(b), ref.refs[size_t(b)]) << "block " << b;
      ASSERT_EQ(pool.used(), ref.used());
      ASSERT_EQ(pool.available(), n_blocks - ref.used());
    }
    for (Owner& o : owners)
      for (int32_t blk : o.blocks) {
        pool.release(blk);
        --ref.refs[size_t(blk)];
      }
    ASSERT_NO_THROW(pool.check());
    ASSERT_EQ(pool.used(), 0) << "blocks leaked in round " << round;
    ASSERT_EQ(pool.available(), n_blocks);
    // Every block comes back exactly once.
    std::set<int> got;
    for (int i = 0; i < n_blocks; ++i) {
      const int b = pool.allocate();
      ASSERT_GE(b, 0);
      ASSERT_TRUE(got.insert(b).second) << "block " << b << " handed out twice";
    }
    ASSERT_EQ(pool.allocate(), -1);
  }
}

TEST(BlockPool, DoubleFreeAndBadIdsAreErrors) {
  BlockPool pool(4, 2);
  const int b = pool.allocate();
  pool.release(b);
  EXPECT_THROW(pool.release(b), Error);
  EXPECT_THROW(pool.release(7), Error);
  EXPECT_THROW(pool.retain(b), Error);  // free, not cached
  EXPECT_NO_THROW(pool.check());
}

TEST(BlockPool, PrefixMatchChainsFullBlocksAndFindsPartialCopies) {
  BlockPool pool(8, 4);
  const std::vector<int32_t> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const int b0 = pool.allocate(), b1 = pool.allocate(), b2 = pool.allocate();
  const uint64_t k0 = BlockPool::chain(0, &a[0], 4);
  pool.publish(b0, 0, &a[0], 4);
  pool.publish(b1, k0, &a[4], 4);
  pool.publish(b2, BlockPool::chain(k0, &a[4], 4), &a[8], 2);
  for (int blk : {b0, b1, b2}) pool.release(blk);  // all cached now
  EXPECT_EQ(pool.cached(), 3);
  BlockPool::Match m;
  pool.match(a.data(), 10, 9, m);  // the last token must be computed
  ASSERT_EQ(m.blocks, (std::vector<int32_t>{b0, b1}));
  EXPECT_EQ(m.partial, b2);
  EXPECT_EQ(m.partial_tokens, 1);
  EXPECT_EQ(m.tokens(4), 9);
  // A prompt that differs inside the second block copies its common beginning.
  std::vector<int32_t> c = {1, 2, 3, 4, 5, 6, 99, 99, 99};
  pool.match(c.data(), 9, 8, m);
  ASSERT_EQ(m.blocks, (std::vector<int32_t>{b0}));
  EXPECT_EQ(m.partial, b1);
  EXPECT_EQ(m.partial_tokens, 2);
  // The same tokens after another prefix do not match.
  std::vector<int32_t> d = {9, 9, 9, 9, 5, 6, 7, 8};
  pool.match(d.data(), 8, 8, m);
  EXPECT_TRUE(m.blocks.empty());
  EXPECT_EQ(m.partial, -1);
  // Eviction: allocating every block drops the cached ones from the index.
  for (int i = 0; i < 8; ++i) EXPECT_GE(pool.allocate(), 0);
  pool.match(a.data(), 10, 9, m);
  EXPECT_TRUE(m.blocks.empty());
  EXPECT_NO_THROW(pool.check());
}
