// Peak resident set size of this process: one definition for bench, serving
// bench and optimize.
#pragma once
#include <cstdint>

namespace qinfer {

// Bytes; -1 where the system does not say.
//
// Read from VmHWM in /proc/self/status, not getrusage's ru_maxrss: the kernel
// folds the address space an exec replaced into ru_maxrss, so a process started
// by a large parent (a shell, a test runner, optimize's driver) can report the
// parent's peak as its own. VmHWM is the high-water mark of this process's
// own address space. getrusage is the fallback where /proc is not mounted.
int64_t peak_rss_bytes();

}  // namespace qinfer
