// How many threads a job runs on: one rule for every command and layer.
//
//   none given (0 or less)  the physical cores. llama.cpp's default too: the two
//                           hyper-threads of a core share its vector units, so a
//                           second thread per core adds little to the matmuls and
//                           costs a synchronisation at every step.
//   more than the machine   capped at its hardware threads (logical cores): more
//                           threads than that only time-share, and the spin-wait
//                           of an oversubscribed pool steals the cores the working
//                           threads need (`-t 10000` once started 10,000 threads).
#pragma once

namespace qinfer {

struct ThreadCount {
  int threads = 1;      // what to run on
  bool capped = false;  // the request exceeded the machine's hardware threads
};

int default_thread_count();
int hardware_thread_count();  // logical cores, at least 1
ThreadCount choose_thread_count(int requested);
inline int resolve_thread_count(int requested) { return choose_thread_count(requested).threads; }

}  // namespace qinfer
