#include "qinfer/core/x86_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace qinfer {

namespace {

#if defined(__x86_64__) || defined(__i386__)
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub) {
  Regs r;
  if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) return Regs{};
  return r;
}

unsigned long long xgetbv0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

X86Features detect() {
  X86Features f;
  const Regs l1 = cpuid(1, 0);
  const bool osxsave = bit(l1.c, 27);
  const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state saved by the OS
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // plus opmask and ZMM state
  const Regs l7 = cpuid(7, 0);
  const Regs l7s1 = cpuid(7, 1);
  f.sse42 = bit(l1.c, 20);
  f.avx = os_ymm && bit(l1.c, 28);
  f.fma = f.avx && bit(l1.c, 12);
  f.f16c = f.avx && bit(l1.c, 29);
  f.avx2 = f.avx && bit(l7.b, 5);
  f.bmi2 = bit(l7.b, 8);
  f.avx512f = os_zmm && bit(l7.b, 16);
  f.avx512dq = f.avx512f && bit(l7.b, 17);
  f.avx512bw = f.avx512f && bit(l7.b, 30);
  f.avx512vl = f.avx512f && bit(l7.b, 31);
  f.avx512vnni = f.avx512f && bit(l7.c, 11);
  f.avx512bf16 = f.avx512f && bit(l7s1.a, 5);
  f.avxvnni = f.avx && bit(l7s1.a, 4);
  return f;
}
#else
X86Features detect() { return {}; }
#endif

}  // namespace

const X86Features& x86_features() {
  static const X86Features features = detect();
  return features;
}

}  // namespace qinfer
