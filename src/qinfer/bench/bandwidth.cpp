#include "qinfer/bench/bandwidth.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "qinfer/core/error.h"
#include "qinfer/core/huge_buffer.h"
#include "qinfer/core/thread_pool.h"

namespace qinfer::bench {

uint64_t read_sum(const void* p, size_t bytes) {
  // Eight independent sums: the loop vectorizes and is bound by the loads.
  const auto* w = static_cast<const uint64_t*>(p);
  const size_t n = bytes / sizeof(uint64_t);
  uint64_t s[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += w[i + size_t(k)];
  for (; i < n; ++i) s[0] += w[i];
  uint64_t t = 0;
  for (uint64_t v : s) t += v;
  return t;
}

double measure_read_bandwidth_here(const BandwidthOptions& o) {
  const size_t page = 4096;
  const size_t bytes = std::max<size_t>(o.bytes / page * page, page);
  // The memory the repacked weights live in (huge pages where the system
  // allows them): the roofline divides by what the weights' memory can give.
  HugeBuffer buf(bytes);
  ThreadPool pool(std::max(1, o.threads));
  // Each thread first-touches the part it will read (its NUMA node, its pages).
  pool.parallel_for(int64_t(bytes / page), [&](int64_t p0, int64_t p1) {
    std::memset(reinterpret_cast<char*>(buf.data()) + size_t(p0) * page, 1, size_t(p1 - p0) * page);
  });
  double best = 0;
  volatile uint64_t sink = 0;
  for (int rep = 0; rep < std::max(1, o.repetitions) + 1; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(int64_t(bytes / page), [&](int64_t p0, int64_t p1) {
      sink = sink + read_sum(reinterpret_cast<char*>(buf.data()) + size_t(p0) * page, size_t(p1 - p0) * page);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) best = std::max(best, double(bytes) / s);  // pass 0 warms up
  }
  return best;
}

double measure_read_bandwidth(const BandwidthOptions& o) {
  int fds[2];
  if (::pipe(fds) != 0) throw Error(std::string("read bandwidth: pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error(std::string("read bandwidth: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {  // child: measure, write the number, leave without running the parent's atexit handlers
    ::close(fds[0]);
    double bw = -1;
    try {
      bw = measure_read_bandwidth_here(o);
    } catch (...) {
    }
    const ssize_t w = ::write(fds[1], &bw, sizeof bw);
    ::_exit(w == ssize_t(sizeof bw) ? 0 : 1);
  }
  ::close(fds[1]);
  double bw = -1;
  ssize_t got = 0;
  do got = ::read(fds[0], &bw, sizeof bw);
  while (got < 0 && errno == EINTR);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != ssize_t(sizeof bw) || !(bw > 0))
    throw Error("read bandwidth: the measuring process failed (not enough memory for a " +
                std::to_string(o.bytes >> 20) + " MiB buffer?)");
  return bw;
}

}  // namespace qinfer::bench
