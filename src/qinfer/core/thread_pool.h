// A fixed pool of worker threads that runs one parallel region at a time.
// The caller's thread takes part as worker 0, so threads=1 spawns nothing.
// An exception thrown by the region's function on any thread is rethrown to
// the caller once every thread has left the region (the first one wins).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "qinfer/core/function_ref.h"

namespace qinfer {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) on every thread and waits for all.
  void run(FunctionRef<void(int, int)> fn);

  // Calls fn(thread_index, n_threads) on the caller and on each worker that
  // arrives before the caller's own call has returned; then waits only for the
  // workers inside fn. For work taken from a shared counter (any thread may
  // end up doing all of it): a worker that is not running when the region
  // opens (preempted by another process, an HTTP handler on the same cores)
  // neither holds the caller back nor is waited for.
  void run_some(FunctionRef<void(int, int)> fn);

  // Splits [0, n) into contiguous chunks, one per thread (a static split:
  // for work whose per-thread state depends on the thread's index). A single
  // item runs on the caller without waking anyone.
  void parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn);

  // Hands [0, n) out as fn(begin, end) in chunks of `chunk` items (the last
  // may be shorter; each begin a multiple of chunk) through an atomic counter:
  // each thread, the caller included, takes the next chunk until none is
  // left. A thread that is preempted (another process, an HTTP handler on the
  // same cores) leaves its share to the others instead of holding them at the
  // end of a static split. n <= chunk runs on the caller alone.
  void parallel_chunks(int64_t n, int64_t chunk, FunctionRef<void(int64_t, int64_t)> fn);

  // Hands [0, n) out as fn(begin, end) in whole units (each begin a multiple
  // of unit; the last end may be n). Each thread owns one contiguous segment,
  // about n / threads long, and walks it from the front in pieces of a quarter
  // of what is left (1 to 4 units), so it streams its memory in order; a
  // thread done with its own segment takes pieces from the back of the
  // others'. So the threads end within about a unit of each other, and a
  // thread that never arrives (preempted) has its segment done by the rest.
  // n <= unit runs on the caller alone.
  void parallel_segments(int64_t n, int64_t unit, FunctionRef<void(int64_t, int64_t)> fn);

 private:
  void worker(int index);
  void open_region(const FunctionRef<void(int, int)>& fn, bool all);
  void record(std::exception_ptr e);  // keeps the first exception of a region

  int n_threads_;
  int spin_ = 0;      // pause iterations before a worker sleeps
  int end_spin_ = 0;  // pause iterations before the caller, waiting for workers, yields
  std::vector<std::thread> threads_;
  // Workers spin briefly on door_ before sleeping on start_cv_, so the many
  // short parallel regions of a decode step do not pay a futex wake each.
  std::mutex mu_;
  std::condition_variable start_cv_;
  const FunctionRef<void(int, int)>* job_ = nullptr;
  // The region's door: its number (bits 17 and up), a closed flag (bit 16) and
  // the workers inside it (bits 0-15). A worker enters by incrementing it while
  // it is open and its number is the one it woke for, so once the caller has
  // closed it nobody can reach job_ any more.
  std::atomic<uint64_t> door_{0};
  bool all_ = true;               // run(): every worker must take part
  std::atomic<int> finished_{0};  // run(): workers done with the region
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // written once per region, by whoever sets failed_
  alignas(64) std::atomic<int64_t> next_chunk_{0};  // parallel_chunks' counter, on its own cache line
  // parallel_segments' state, one cache line per thread: the segment's
  // unclaimed units [front, back), front in the low 32 bits.
  struct alignas(64) Segment {
    std::atomic<uint64_t> span{0};
  };
  std::unique_ptr<Segment[]> segments_;
};

}  // namespace qinfer
