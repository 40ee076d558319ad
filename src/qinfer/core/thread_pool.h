// A fixed pool of worker threads that runs one parallel region at a time.
// The caller's thread takes part as worker 0, so threads=1 spawns nothing.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
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

  // Splits [0, n) into contiguous chunks, one per thread.
  void parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn);

 private:
  void worker(int index);

  int n_threads_;
  int spin_ = 0;  // pause iterations before a worker sleeps
  std::vector<std::thread> threads_;
  // Workers spin briefly on generation_ before sleeping on start_cv_, so the
  // many short parallel regions of a decode step do not pay a futex wake each.
  std::mutex mu_;
  std::condition_variable start_cv_;
  const FunctionRef<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace qinfer
