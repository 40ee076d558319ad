// The aarch64 build picks its kernel path from the CPU's HWCAP bits: run
// under qemu-aarch64 with -cpu cortex-a72 (ARMv8.0: no dot product) it must
// pick neon, with -cpu max (SDOT/UDOT) neon_dot. run.sh says which CPU it
// emulates through QINFER_EXPECT_ISA. And the NEON int8 kernels equal the
// scalar ones bit for bit.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qinfer/core/arm_features.h"
#include "qinfer/kernels/kernel_types.h"
#include "qinfer/kernels/kernels.h"
#include "qinfer/quant/type_registry.h"
#include "qinfer/runtime/device_report.h"

using namespace qinfer;
using kernels::Isa;

TEST(ArmDispatch, BuildHasTheNeonPaths) {
  const std::vector<Isa>& isas = kernels::all_isas();
  ASSERT_EQ(isas.size(), 3u);
  EXPECT_EQ(isas[0], Isa::Scalar);
  EXPECT_EQ(isas[1], Isa::Neon);
  EXPECT_EQ(isas[2], Isa::NeonDot);
}

TEST(ArmDispatch, PathFollowsTheEmulatedCpu) {
  const char* want = std::getenv("QINFER_EXPECT_ISA");
  if (!want) GTEST_SKIP() << "QINFER_EXPECT_ISA not set (run.sh sets it per emulated CPU)";
  const ArmFeatures& f = arm_features();
  EXPECT_TRUE(f.asimd);
  EXPECT_EQ(f.dotprod, std::string(want) == "neon_dot");
  EXPECT_STREQ(kernels::isa_name(kernels::best_supported_isa()), want);
  EXPECT_TRUE(kernels::isa_supported(Isa::Neon));
  EXPECT_EQ(kernels::isa_supported(Isa::NeonDot), f.dotprod);
  EXPECT_FALSE(kernels::isa_supported(Isa::Avx2));
}

// `qinfer devices` on aarch64: the CPU's ARM features (not x86's), the paths
// this build carries, and the one the emulated CPU gets.
TEST(ArmDispatch, DevicesReportNamesTheArmPaths) {
  const std::string report = describe_devices();
  EXPECT_NE(report.find("+NEON"), std::string::npos) << report;
  EXPECT_EQ(report.find("AVX"), std::string::npos) << report;
  EXPECT_NE(report.find("kernel paths: scalar neon"), std::string::npos) << report;
  EXPECT_EQ(report.find(" 0 logical"), std::string::npos) << report;
  EXPECT_EQ(report.find("RAM:   0.0 GiB total"), std::string::npos) << report;
  if (const char* want = std::getenv("QINFER_EXPECT_ISA")) {
    EXPECT_NE(report.find(std::string("kernel path: ") + want + " (best available)"), std::string::npos) << report;
    EXPECT_NE(report.find(std::string(" ") + (std::string(want) == "neon_dot" ? "+" : "-") + "DOTPROD"),
              std::string::npos)
        << report;
  }
  std::printf("%s", report.c_str());
}

// The NEON int8 block kernels keep the scalar reference's arithmetic (exact
// integer sums, then its float steps in its order), so they give its bits,
// on both paths: a stronger check than the tolerances of test_kernels.
TEST(ArmKernels, BlockTypesEqualScalarBitForBit) {
  const Isa saved = kernels::active_isa();
  const int64_t n = 1024, rows = 5, n_tok = 6;
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  int checked = 0;
  for (TypeId t : kernels::types_with_kernels()) {
    const TypeInfo& wi = type_info(t);
    if (wi.block_size == 1 || !find_type(wi.vec_dot_type) || wi.vec_dot_type == TypeId::F16) continue;
    if (t != TypeId::Q4_0 && t != TypeId::Q4_1 && t != TypeId::Q5_0 && t != TypeId::Q5_1 && t != TypeId::Q8_0 &&
        t != TypeId::IQ4_NL && t != TypeId::Q2_K && t != TypeId::Q3_K && t != TypeId::Q4_K && t != TypeId::Q5_K &&
        t != TypeId::Q6_K)
      continue;  // other kinds (NF4, INT8, ...) have no NEON kernel: the scalar one runs
    const size_t ws = row_size(t, n), xs = row_size(wi.vec_dot_type, n);
    std::vector<uint8_t> W(ws * rows), X(xs * n_tok);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& x : v) x = g(rng) * (r == 2 ? 50.0f : 1.0f);
      wi.from_float(v.data(), W.data() + size_t(r) * ws, n);
    }
    kernels::set_isa(Isa::Scalar);
    for (int64_t k = 0; k < n_tok; ++k) {
      for (auto& x : v) x = g(rng) * (k % 2 ? 0.01f : 3.0f);
      kernels::convert_activations(wi.vec_dot_type, v.data(), X.data() + size_t(k) * xs, n);
    }
    std::vector<float> want(size_t(rows * n_tok));
    kernels::matmul_rows(t, n, W.data(), ws, 0, rows, X.data(), xs, n_tok, want.data(), rows);
    for (Isa isa : {Isa::Neon, Isa::NeonDot}) {
      if (!kernels::isa_supported(isa)) continue;
      kernels::set_isa(isa);
      std::vector<float> got(want.size());
      kernels::matmul_rows(t, n, W.data(), ws, 0, rows, X.data(), xs, n_tok, got.data(), rows);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0)
          << wi.name << " on " << kernels::isa_name(isa);
      EXPECT_EQ(kernels::vec_dot(t, n, W.data() + 2 * ws, X.data() + xs), want[size_t(rows + 2)])
          << wi.name << " vec_dot on " << kernels::isa_name(isa);
    }
    ++checked;
  }
  kernels::set_isa(saved);
  EXPECT_EQ(checked, 11);
}
