// aarch64 SIMD features: on Linux from the kernel's hardware capability bits
// (getauxval(AT_HWCAP/AT_HWCAP2)), on macOS from the hw.optional.arm.FEAT_*
// sysctl names, which is how each system reports what user code may execute.
// All false on other architectures.
#pragma once
#include <functional>

namespace qinfer {

struct ArmFeatures {
  bool asimd = false;     // Advanced SIMD (NEON): baseline on ARMv8-A
  bool fphp = false;      // half-precision scalar arithmetic
  bool asimdhp = false;   // half-precision vector arithmetic
  bool dotprod = false;   // SDOT/UDOT (ARMv8.2 dot-product extension)
  bool i8mm = false;      // SMMLA/UMMLA (ARMv8.6 int8 matrix multiply)
  bool sve = false;
};

// Detected once; cheap to call.
const ArmFeatures& arm_features();

// The features of an aarch64 Mac, given a query of its boolean sysctl names
// ("hw.optional.arm.FEAT_DotProd" → true when present and 1). Apple's cores
// have no SVE. Separate from the sysctl call so that the mapping is tested
// on any machine.
ArmFeatures arm_features_from_sysctl(const std::function<bool(const char* name)>& query);

}  // namespace qinfer
