// --device parsing and resolution, and the GPU probe on fake /proc trees.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "qinfer/core/error.h"
#include "qinfer/core/machine.h"
#include "qinfer/runtime/device.h"
#include "test_util.h"

namespace qinfer {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A /proc with the NVIDIA driver reporting the given GPUs (bus ids in reverse order).
fs::path fake_proc(const std::vector<std::string>& gpus, bool driver = true) {
  const fs::path root = test::scratch_dir() / "proc";
  fs::remove_all(root);
  fs::create_directories(root);
  if (!driver) return root;
  write(root / "driver/nvidia/version",
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
        "GCC version:  gcc version 12.2.0\n");
  fs::create_directories(root / "driver/nvidia/gpus");
  for (size_t i = 0; i < gpus.size(); ++i)
    write(root / "driver/nvidia/gpus" / ("0000:0" + std::to_string(9 - i) + ":00.0") / "information",
          "Model: \t\t " + gpus[i] + "\nIRQ:   42\nGPU UUID: GPU-x\n");
  return root;
}

TEST(Device, ParsesEverySpellingAndRejectsOthers) {
  EXPECT_EQ(parse_device("auto").kind, DeviceRequest::Kind::Auto);
  EXPECT_EQ(parse_device("cpu").kind, DeviceRequest::Kind::Cpu);
  const DeviceRequest c = parse_device("cuda");
  EXPECT_EQ(c.kind, DeviceRequest::Kind::Cuda);
  EXPECT_EQ(c.index, -1);
  const DeviceRequest c3 = parse_device("cuda:3");
  EXPECT_EQ(c3.kind, DeviceRequest::Kind::Cuda);
  EXPECT_EQ(c3.index, 3);
  for (const char* bad : {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "cuda:99999", "metal", "cpu "}) {
    try {
      parse_device(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("--device"), std::string::npos) << m;
      EXPECT_NE(m.find("auto, cpu, cuda or cuda:N"), std::string::npos) << m;
    }
  }
}

TEST(Device, ProbeReadsTheDriversGpuListInBusOrder) {
  const GpuProbe p = probe_gpus(fake_proc({"NVIDIA H100 80GB HBM3", "Tesla T4"}).string());
  EXPECT_TRUE(p.driver_loaded);
  EXPECT_EQ(p.driver_version, "535.104.05");
  ASSERT_EQ(p.nvidia_gpus.size(), 2u);
  EXPECT_EQ(p.nvidia_gpus[0], "Tesla T4");  // bus 0000:08 before 0000:09
  EXPECT_EQ(gpu_names(p), "Tesla T4, NVIDIA H100 80GB HBM3");
  const GpuProbe none = probe_gpus(fake_proc({}, false).string());
  EXPECT_FALSE(none.driver_loaded);
  EXPECT_EQ(gpu_names(none), "none");
}

TEST(Device, CpuIsAlwaysAvailable) {
  for (bool driver : {false, true}) {
    const DeviceChoice c = resolve_device(parse_device("cpu"), probe_gpus(fake_proc({"Tesla T4"}, driver).string()));
    EXPECT_EQ(c.name, "cpu");
    EXPECT_FALSE(c.fallback);
    EXPECT_NE(c.reason.find("--device cpu"), std::string::npos);
  }
}

// This build has no CUDA backend: asking for CUDA by name says so and what
// the machine has, whether or not it has a GPU.
TEST(Device, CudaByNameSaysWhatWasFoundInstead) {
  try {
    resolve_device(parse_device("cuda:1"), probe_gpus(fake_proc({"Tesla T4"}).string()));
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--device cuda:1"), std::string::npos) << m;
    EXPECT_NE(m.find("no CUDA backend"), std::string::npos) << m;
    EXPECT_NE(m.find("Tesla T4"), std::string::npos) << m;
    EXPECT_NE(m.find("535.104.05"), std::string::npos) << m;
    EXPECT_NE(m.find("available: cpu"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  try {
    resolve_device(parse_device("cuda"), probe_gpus(fake_proc({}, false).string()));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no NVIDIA driver"), std::string::npos) << e.what();
  }
}

TEST(Device, AutoFallsBackToTheCpuAndSaysWhy) {
  const DeviceChoice with_gpu = resolve_device(parse_device("auto"), probe_gpus(fake_proc({"Tesla T4"}).string()));
  EXPECT_EQ(with_gpu.name, "cpu");
  EXPECT_TRUE(with_gpu.fallback);
  EXPECT_NE(with_gpu.reason.find("Tesla T4"), std::string::npos) << with_gpu.reason;
  EXPECT_NE(with_gpu.reason.find("no CUDA backend"), std::string::npos) << with_gpu.reason;
  const DeviceChoice bare = resolve_device(parse_device("auto"), probe_gpus(fake_proc({}, false).string()));
  EXPECT_EQ(bare.name, "cpu");
  EXPECT_NE(bare.reason.find("no NVIDIA driver"), std::string::npos) << bare.reason;
}

}  // namespace
}  // namespace qinfer
