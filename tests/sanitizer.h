// Whether this test binary runs under AddressSanitizer (GCC and clang spell
// it differently), and how much slower wall-clock limits must allow for it:
// ASan costs 2-5x and a loaded CI machine doubles that, while the regressions
// those limits catch (quadratic scans) cost 1000x.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define QINFER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QINFER_ASAN 1
#endif
#endif

namespace qinfer::test {
#ifdef QINFER_ASAN
inline constexpr double kSanitizerSlowdown = 10;
#else
inline constexpr double kSanitizerSlowdown = 1;
#endif
}  // namespace qinfer::test
