// x86 SIMD features from CPUID and XGETBV, so that gcc and clang agree (clang 14's
// __builtin_cpu_supports lacks several names) and OS support for the wide
// registers is checked too. All false on other architectures.
#pragma once

namespace qinfer {

struct X86Features {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
};

// Detected once; cheap to call.
const X86Features& x86_features();

}  // namespace qinfer
