// FNV-1a, 64 bits: a cheap fingerprint of bytes (not cryptographic), chained
// through `h` so that hashing a, then b equals hashing their concatenation.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qinfer {

inline constexpr uint64_t kFnv1aSeed = 14695981039346656037ull;

inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnv1aSeed) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace qinfer
