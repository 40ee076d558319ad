#include "qinfer/core/arm_features.h"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace qinfer {

namespace {

ArmFeatures detect() {
  ArmFeatures f;
#if defined(__aarch64__) && defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  f.asimd = hw & HWCAP_ASIMD;
  f.fphp = hw & HWCAP_FPHP;
  f.asimdhp = hw & HWCAP_ASIMDHP;
  f.dotprod = hw & HWCAP_ASIMDDP;
  f.sve = hw & HWCAP_SVE;
#ifdef HWCAP2_I8MM
  f.i8mm = hw2 & HWCAP2_I8MM;
#else
  (void)hw2;
#endif
#elif defined(__aarch64__)
  f.asimd = true;  // baseline on ARMv8-A; other systems: no extensions assumed
#endif
  return f;
}

}  // namespace

const ArmFeatures& arm_features() {
  static const ArmFeatures features = detect();
  return features;
}

}  // namespace qinfer
