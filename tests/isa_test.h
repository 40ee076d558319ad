// A test run once per kernel path (ISA): the one list of paths the kernel
// tests walk, skipping those this CPU cannot run and restoring the active
// path afterwards. Derive a fixture from IsaTest and instantiate it with
// ::testing::ValuesIn(all_isas()) and isa_test_name.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "qinfer/kernels/kernels.h"

namespace qinfer::test {

// This build's paths (one architecture's: scalar, avx2, avx512 or scalar, neon, neon_dot).
inline std::vector<kernels::Isa> all_isas() { return kernels::all_isas(); }

class IsaTest : public ::testing::TestWithParam<kernels::Isa> {
 protected:
  void SetUp() override {
    saved_ = kernels::active_isa();
    if (!kernels::isa_supported(GetParam()))
      GTEST_SKIP() << kernels::isa_name(GetParam()) << " not supported on this CPU";
    kernels::set_isa(GetParam());
  }
  void TearDown() override { kernels::set_isa(saved_); }

 private:
  kernels::Isa saved_ = kernels::Isa::Scalar;
};

inline std::string isa_test_name(const ::testing::TestParamInfo<kernels::Isa>& info) {
  return kernels::isa_name(info.param);
}

}  // namespace qinfer::test
