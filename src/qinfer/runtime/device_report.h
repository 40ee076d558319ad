// What `qinfer devices` prints: the CPU (model, cores, RAM, SIMD features),
// the kernel paths this build carries and the one in use, and why no GPU is
// usable. In runtime/ rather than the CLI so that the aarch64 sub-build (which
// has no CLI: no cross-built HTTP or SQLite) checks the same text under qemu.
#pragma once
#include <string>

namespace qinfer {

// Several lines, each ending in '\n'.
std::string describe_devices();

}  // namespace qinfer
