#include "qinfer/core/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QINFER_PAUSE() _mm_pause()
#else
#define QINFER_PAUSE() std::this_thread::yield()
#endif

namespace qinfer {

namespace {
constexpr int kSpinIterations = 1 << 16;  // ~1 ms of spinning before sleeping
// The caller's wait at the end of a region, in pauses before it yields: a few
// chunks' time (tens of µs). A worker that is not done by then has most likely
// been preempted, and spinning would only keep its core from it.
constexpr int kEndSpinIterations = 1 << 11;

// door_'s fields (see thread_pool.h).
constexpr uint64_t kClosed = uint64_t(1) << 16;
constexpr uint64_t kInside = kClosed - 1;
constexpr int kRegionShift = 17;

// parallel_segments' largest piece, in units: small enough that a thread
// preempted inside it holds the region back briefly (4 × 16 rows of a decode
// matmul: a few µs of weights), large enough that claims stay rare.
constexpr uint64_t kMaxPiece = 4;

// Waiting for other threads: spin first; past the spin budget, give the core
// away (a preempted worker may need it).
inline void backoff(int i, int spin) {
  if (i < spin) QINFER_PAUSE();
  else std::this_thread::yield();
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  // Spinning only pays when every thread has a core; oversubscribed, it steals
  // the cores the working threads need.
  const int cores = int(std::thread::hardware_concurrency());
  spin_ = cores <= 0 || n_threads_ <= cores ? kSpinIterations : 0;
  end_spin_ = std::min(spin_, kEndSpinIterations);
  segments_ = std::make_unique<Segment[]>(size_t(n_threads_));
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::record(std::exception_ptr e) {
  if (!failed_.exchange(true, std::memory_order_acq_rel)) error_ = std::move(e);
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;  // the last region this worker woke for
  auto fresh = [&] { return (door_.load(std::memory_order_acquire) >> kRegionShift) != seen; };
  for (;;) {
    for (int i = 0; i < spin_ && !fresh() && !stop_.load(std::memory_order_relaxed); ++i) QINFER_PAUSE();
    if (!fresh()) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_.load() || fresh(); });
    }
    if (stop_.load()) return;
    uint64_t d = door_.load(std::memory_order_acquire);
    seen = d >> kRegionShift;
    bool entered = false;
    while (!entered && !(d & kClosed) && (d >> kRegionShift) == seen)
      entered = door_.compare_exchange_weak(d, d + 1, std::memory_order_acq_rel, std::memory_order_acquire);
    if (!entered) continue;  // run_some's caller finished without us
    const bool all = all_;
    try {
      (*job_)(index, n_threads_);
    } catch (...) {
      record(std::current_exception());
    }
    door_.fetch_sub(1, std::memory_order_acq_rel);
    if (all) finished_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::open_region(const FunctionRef<void(int, int)>& fn, bool all) {
  job_ = &fn;
  all_ = all;
  finished_.store(0, std::memory_order_relaxed);
  failed_.store(false, std::memory_order_relaxed);
  error_ = nullptr;
  // Nobody is inside: the last region was closed (run_some) or every worker left it (run).
  door_.store(((door_.load(std::memory_order_relaxed) >> kRegionShift) + 1) << kRegionShift,
              std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);  // pairs with the predicate check of sleeping workers
  }
  start_cv_.notify_all();
}

void ThreadPool::run(FunctionRef<void(int, int)> fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  open_region(fn, true);
  try {
    fn(0, n_threads_);
  } catch (...) {
    record(std::current_exception());
  }
  // Every worker must run fn once (and fn lives in the caller's frame): wait
  // for all of them, even when the caller's part threw.
  for (int i = 0; finished_.load(std::memory_order_acquire) != n_threads_ - 1; ++i) backoff(i, end_spin_);
  if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
}

void ThreadPool::run_some(FunctionRef<void(int, int)> fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  open_region(fn, false);
  try {
    fn(0, n_threads_);
  } catch (...) {
    record(std::current_exception());
  }
  // Close the door once nobody is inside; workers that arrive later skip the region.
  for (int i = 0;; ++i) {
    uint64_t d = door_.load(std::memory_order_acquire);
    if ((d & kInside) == 0 &&
        door_.compare_exchange_strong(d, d | kClosed, std::memory_order_acq_rel, std::memory_order_acquire))
      break;
    backoff(i, end_spin_);
  }
  if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
}

void ThreadPool::parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
  if (n == 1 || n_threads_ == 1) {
    fn(0, n);
    return;
  }
  auto body = [&](int ith, int nth) {
    const int64_t chunk = (n + nth - 1) / nth;
    const int64_t begin = std::min<int64_t>(n, chunk * ith);
    const int64_t end = std::min<int64_t>(n, begin + chunk);
    if (begin < end) fn(begin, end);
  };
  run(body);
}

void ThreadPool::parallel_chunks(int64_t n, int64_t chunk, FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(1, chunk);
  if (n <= chunk || n_threads_ == 1) {
    fn(0, n);
    return;
  }
  next_chunk_.store(0, std::memory_order_relaxed);  // no worker is inside a region now
  auto body = [&](int, int) {
    for (;;) {
      const int64_t begin = next_chunk_.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      try {
        fn(begin, std::min(n, begin + chunk));
      } catch (...) {
        next_chunk_.store(n, std::memory_order_relaxed);  // the others stop at their next chunk
        throw;
      }
    }
  };
  run_some(body);
}

void ThreadPool::parallel_segments(int64_t n, int64_t unit, FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
  unit = std::max<int64_t>(1, unit);
  const int64_t units = (n + unit - 1) / unit;
  if (units <= 1 || n_threads_ == 1) {
    fn(0, n);
    return;
  }
  if (units >= (int64_t(1) << 31)) {  // beyond the 32-bit halves of a span
    parallel_chunks(n, unit * ((units >> 30) + 1), fn);
    return;
  }
  const int nth = n_threads_;
  for (int i = 0; i < nth; ++i) {  // no worker is inside a region now
    const uint64_t front = uint64_t(units * i / nth), back = uint64_t(units * (i + 1) / nth);
    segments_[size_t(i)].span.store(front | back << 32, std::memory_order_relaxed);
  }
  // Claims a quarter of segment s's rest (one unit at least, kMaxPiece at
  // most: what a preempted thread can hold back) from its front (the owner)
  // or back (anyone else) and runs it; false once it is empty.
  auto take = [&](int s, bool from_front) {
    std::atomic<uint64_t>& span = segments_[size_t(s)].span;
    uint64_t cur = span.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t front = cur & 0xffffffffu, back = cur >> 32;
      if (front >= back) return false;
      const uint64_t k = std::clamp<uint64_t>((back - front) / 4, 1, kMaxPiece);
      const uint64_t u0 = from_front ? front : back - k, u1 = u0 + k;
      const uint64_t next = from_front ? (u1 | back << 32) : (front | u0 << 32);
      if (span.compare_exchange_weak(cur, next, std::memory_order_relaxed, std::memory_order_relaxed)) {
        fn(int64_t(u0) * unit, std::min(n, int64_t(u1) * unit));
        return true;
      }
    }
  };
  auto body = [&](int ith, int) {
    try {
      while (take(ith, true)) {
      }
      for (int d = 1; d < nth; ++d)
        while (take((ith + d) % nth, false)) {
        }
    } catch (...) {
      for (int i = 0; i < nth; ++i) segments_[size_t(i)].span.store(0, std::memory_order_relaxed);  // the others stop
      throw;
    }
  };
  run_some(body);
}

}  // namespace qinfer
