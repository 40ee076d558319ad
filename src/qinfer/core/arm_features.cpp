#include "qinfer/core/arm_features.h"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace qinfer {

ArmFeatures arm_features_from_sysctl(const std::function<bool(const char* name)>& query) {
  ArmFeatures f;
  f.asimd = true;  // every Apple Silicon core (and ARMv8-A) has it
  f.fphp = f.asimdhp = query("hw.optional.arm.FEAT_FP16");
  f.dotprod = query("hw.optional.arm.FEAT_DotProd");
  f.i8mm = query("hw.optional.arm.FEAT_I8MM");
  return f;
}

namespace {

#if defined(__aarch64__) && defined(__APPLE__)
bool sysctl_flag(const char* name) {
  int value = 0;
  size_t size = sizeof value;
  return sysctlbyname(name, &value, &size, nullptr, 0) == 0 && value == 1;
}
#endif

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
#elif defined(__aarch64__) && defined(__APPLE__)
  f = arm_features_from_sysctl(sysctl_flag);
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
