// ThreadPool: every index exactly once, the static and dynamic splits, the
// caller-only shortcuts, and exceptions from any thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "qinfer/core/thread_pool.h"

using namespace qinfer;

namespace {

// Counts calls per index; records each call's range.
struct Coverage {
  explicit Coverage(int64_t n) : hits(size_t(n)) {}
  std::vector<std::atomic<int>> hits;
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  void take(int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
    std::lock_guard<std::mutex> lock(mu);
    ranges.emplace_back(b, e);
  }
  void expect_each_once() {
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
  }
};

}  // namespace

TEST(ThreadPool, RunCallsEveryThreadIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> seen(static_cast<size_t>(threads));
    for (int rep = 0; rep < 50; ++rep)
      pool.run([&](int ith, int nth) {
        EXPECT_EQ(nth, threads);
        seen[size_t(ith)].fetch_add(1);
      });
    for (int i = 0; i < threads; ++i) EXPECT_EQ(seen[size_t(i)].load(), 50) << "thread " << i << " of " << threads;
  }
}

TEST(ThreadPool, ChunksCoverEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 4})
    for (int64_t n : {1, 2, 3, 7, 16, 17, 100, 1000, 4097})
      for (int64_t chunk : {1, 3, 16, 64, 5000}) {
        ThreadPool pool(threads);
        Coverage cov(n);
        pool.parallel_chunks(n, chunk, [&](int64_t b, int64_t e) { cov.take(b, e); });
        SCOPED_TRACE("threads " + std::to_string(threads) + " n " + std::to_string(n) + " chunk " +
                     std::to_string(chunk));
        cov.expect_each_once();
        for (auto [b, e] : cov.ranges) {
          EXPECT_LT(b, e);
          EXPECT_LE(e, n);
          if (n > chunk) {
            EXPECT_EQ(b % chunk, 0);
            EXPECT_TRUE(e - b == chunk || e == n);
          }
        }
      }
}

TEST(ThreadPool, ParallelForCoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 4})
    for (int64_t n : {1, 2, 3, 5, 64, 1001}) {
      ThreadPool pool(threads);
      Coverage cov(n);
      pool.parallel_for(n, [&](int64_t b, int64_t e) { cov.take(b, e); });
      SCOPED_TRACE("threads " + std::to_string(threads) + " n " + std::to_string(n));
      cov.expect_each_once();
      EXPECT_LE(cov.ranges.size(), size_t(threads));  // one contiguous range per thread at most
    }
}

TEST(ThreadPool, NothingToDoCallsNothing) {
  ThreadPool pool(3);
  int calls = 0;
  pool.parallel_for(0, [&](int64_t, int64_t) { ++calls; });
  pool.parallel_for(-4, [&](int64_t, int64_t) { ++calls; });
  pool.parallel_chunks(0, 8, [&](int64_t, int64_t) { ++calls; });
  pool.parallel_chunks(-1, 8, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

// One item (or one chunk's worth) runs on the caller's thread, in one call.
TEST(ThreadPool, SingleItemRunsOnTheCaller) {
  ThreadPool pool(4);
  const std::thread::id me = std::this_thread::get_id();
  std::vector<std::pair<int64_t, int64_t>> calls;
  std::vector<std::thread::id> where;
  std::mutex m;  // the last call's chunks may run on the workers (TSan saw it)
  auto fn = [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(m);
    calls.emplace_back(b, e);
    where.push_back(std::this_thread::get_id());
  };
  pool.parallel_for(1, fn);
  pool.parallel_chunks(5, 8, fn);  // fewer items than threads, within one chunk
  pool.parallel_chunks(8, 8, fn);
  pool.parallel_chunks(3, 0, fn);  // chunk < 1 is taken as 1: 3 chunks, may be spread
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls[0], std::make_pair(int64_t(0), int64_t(1)));
  EXPECT_EQ(calls[1], std::make_pair(int64_t(0), int64_t(5)));
  EXPECT_EQ(calls[2], std::make_pair(int64_t(0), int64_t(8)));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(where[size_t(i)], me) << "call " << i;
}

// parallel_segments: whole units, each index once, each thread's own pieces
// in order (its segment streamed front to back), at most one range for n <= unit.
TEST(ThreadPool, SegmentsCoverEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 4})
    for (int64_t n : {1, 2, 3, 7, 16, 17, 100, 1000, 4097})
      for (int64_t unit : {1, 3, 16, 64, 5000}) {
        ThreadPool pool(threads);
        Coverage cov(n);
        pool.parallel_segments(n, unit, [&](int64_t b, int64_t e) { cov.take(b, e); });
        SCOPED_TRACE("threads " + std::to_string(threads) + " n " + std::to_string(n) + " unit " +
                     std::to_string(unit));
        cov.expect_each_once();
        if (n <= unit) {
          EXPECT_EQ(cov.ranges.size(), 1u);
        }
        for (auto [b, e] : cov.ranges) {
          EXPECT_LT(b, e);
          EXPECT_LE(e, n);
          EXPECT_EQ(b % unit, 0);
          EXPECT_TRUE(e % unit == 0 || e == n);
        }
      }
}

// A thread held inside its first piece: the others finish its segment.
TEST(ThreadPool, SegmentsFlowAroundAHeldThread) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    const int64_t n = 256;
    std::atomic<int64_t> done{0};
    std::atomic<bool> timed_out{false};
    pool.parallel_segments(n, 1, [&](int64_t b, int64_t e) {
      if (b == 0) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (done.load() < n - (e - b)) {
          if (std::chrono::steady_clock::now() > deadline) {
            timed_out = true;
            break;
          }
          std::this_thread::yield();
        }
      }
      done.fetch_add(e - b);
    });
    EXPECT_FALSE(timed_out.load()) << "threads " << threads << ": the others did not take the held thread's segment";
    EXPECT_EQ(done.load(), n);
  }
}

// The point of the dynamic split: while one thread is held inside its first
// chunk, the others take every other chunk. Under a static split the held
// thread would own half the chunks and this would time out.
TEST(ThreadPool, ChunksFlowAroundAHeldThread) {
  ThreadPool pool(2);
  const int64_t n = 64;
  std::atomic<int64_t> done{0};
  std::atomic<bool> timed_out{false};
  pool.parallel_chunks(n, 1, [&](int64_t b, int64_t) {
    if (b == 0) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (done.load() < n - 1) {
        if (std::chrono::steady_clock::now() > deadline) {
          timed_out = true;
          break;
        }
        std::this_thread::yield();
      }
    }
    done.fetch_add(1);
  });
  EXPECT_FALSE(timed_out.load()) << "the other thread did not take the remaining chunks";
  EXPECT_EQ(done.load(), n);
}

// run_some: the caller always takes part (as thread 0), each worker at most
// once, and the regions that follow see every worker again.
TEST(ThreadPool, RunSomeCallsTheCallerAndEachWorkerAtMostOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::atomic<int>> seen(static_cast<size_t>(threads));
      const std::thread::id me = std::this_thread::get_id();
      std::atomic<bool> caller_is_zero{true};
      pool.run_some([&](int ith, int nth) {
        EXPECT_EQ(nth, threads);
        seen[size_t(ith)].fetch_add(1);
        if ((std::this_thread::get_id() == me) != (ith == 0)) caller_is_zero = false;
      });
      ASSERT_EQ(seen[0].load(), 1) << "rep " << rep;
      for (int i = 1; i < threads; ++i) ASSERT_LE(seen[size_t(i)].load(), 1) << "rep " << rep << " thread " << i;
      ASSERT_TRUE(caller_is_zero.load());
    }
    pool.run([&](int, int) {});  // and run() still reaches every worker afterwards
  }
}

// Many short regions back to back, mixing the dynamic and static kinds: no
// chunk lost or done twice while workers enter, skip or race a closing door.
TEST(ThreadPool, ShortRegionsBackToBack) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(8);
  for (int rep = 0; rep < 20000; ++rep) {
    const int64_t n = 1 + rep % 8;
    for (auto& h : hits) h.store(0, std::memory_order_relaxed);
    if (rep % 5 == 4)
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
      });
    else
      pool.parallel_chunks(n, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
      });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "rep " << rep << " index " << i;
  }
}

// An exception on any thread reaches the caller after every thread has left
// the region, and the pool runs the next region normally.
TEST(ThreadPool, ExceptionsReachTheCaller) {
  ThreadPool pool(3);
  for (int thrower = 0; thrower < 3; ++thrower) {
    std::atomic<int> entered{0};
    EXPECT_THROW(pool.run([&](int ith, int) {
      entered.fetch_add(1);
      if (ith == thrower) throw std::runtime_error("boom");
    }),
                 std::runtime_error)
        << "thread " << thrower;
    EXPECT_EQ(entered.load(), 3);
  }
  try {
    pool.parallel_segments(1000, 10, [&](int64_t b, int64_t e) {
      if (b <= 500 && 500 < e) throw std::out_of_range("segment piece with 500");
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::out_of_range&) {
  }
  try {
    pool.parallel_chunks(1000, 10, [&](int64_t b, int64_t) {
      if (b == 500) throw std::out_of_range("chunk 500");
    });
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "chunk 500");
  }
  EXPECT_THROW(pool.parallel_for(9, [](int64_t, int64_t) { throw std::logic_error("all"); }), std::logic_error);
  EXPECT_THROW(pool.run_some([](int, int) { throw std::logic_error("some"); }), std::logic_error);
  EXPECT_THROW(pool.parallel_chunks(4, 8, [](int64_t, int64_t) { throw std::logic_error("caller"); }),
               std::logic_error);
  Coverage cov(333);
  pool.parallel_chunks(333, 7, [&](int64_t b, int64_t e) { cov.take(b, e); });
  cov.expect_each_once();
  Coverage seg(333);
  pool.parallel_segments(333, 7, [&](int64_t b, int64_t e) { seg.take(b, e); });
  seg.expect_each_once();
}
