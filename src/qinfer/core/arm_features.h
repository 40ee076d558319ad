// aarch64 SIMD features from the kernel's hardware capability bits
// (getauxval(AT_HWCAP/AT_HWCAP2)), which is how Linux reports what user code
// may execute. All false on other architectures.
#pragma once

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

}  // namespace qinfer
