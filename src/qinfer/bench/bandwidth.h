// STREAM-style read bandwidth of this machine: the decode roofline's
// denominator. Decode streams every weight once per token, so the number that
// bounds it is how fast `threads` threads can read a buffer far larger than
// the caches (no writes, as decode writes almost nothing).
#pragma once
#include <cstddef>
#include <cstdint>

namespace qinfer::bench {

struct BandwidthOptions {
  int threads = 1;
  size_t bytes = size_t(256) << 20;  // buffer; several times any last-level cache
  int repetitions = 5;               // the best pass is reported, as STREAM does
};

// Sums `bytes` bytes at p as 64-bit words (the sum keeps the reads alive).
uint64_t read_sum(const void* p, size_t bytes);

// Best read bandwidth in bytes/s over the repetitions. Runs in a child process
// so that the buffer never counts towards this process's peak RSS; throws
// Error when the child cannot be started or fails.
double measure_read_bandwidth(const BandwidthOptions& options);

// The same measurement in this process (the child's body; benchmarks).
double measure_read_bandwidth_here(const BandwidthOptions& options);

}  // namespace qinfer::bench
