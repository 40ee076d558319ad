// core/: statistics, byte formatting, the thread-count rule, peak RSS and the
// atomic file writer, each the one definition the rest of qinfer uses.
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "qinfer/core/arm_features.h"
#include "qinfer/core/ascii.h"
#include "qinfer/core/atomic_file.h"
#include "qinfer/core/cpu_info.h"
#include "qinfer/core/error.h"
#include "qinfer/core/format.h"
#include "qinfer/core/huge_buffer.h"
#include "qinfer/core/peak_rss.h"
#include "qinfer/core/stats.h"
#include "qinfer/core/threads.h"
#include "in_child.h"
#include "test_util.h"

using namespace qinfer;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

// Values checked against numpy: np.mean, np.std(ddof=0), np.std(ddof=1),
// np.percentile(method="linear").
TEST(Stats, MatchNumpy) {
  const std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(mean(v), 5.0);
  EXPECT_DOUBLE_EQ(population_stddev(v), 2.0);
  EXPECT_NEAR(sample_stddev(v), std::sqrt(32.0 / 7.0), 1e-15);
  const std::vector<double> w{4, 1, 3, 2};
  EXPECT_NEAR(percentile(w, 50), 2.5, 1e-12);
  EXPECT_NEAR(percentile(w, 90), 3.7, 1e-12);
  EXPECT_NEAR(percentile(w, 99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(percentile(w, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(w, 100), 4);
  EXPECT_NEAR(percentile({10, 20, 30, 40, 50, 60, 70, 80, 90, 1000}, 90), 181.0, 1e-9);
  // llama-perplexity's percentile at fraction·(N − 1) is the same thing.
  EXPECT_NEAR(percentile({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99.9), 9.99, 1e-12);
}

TEST(Stats, EdgeCases) {
  EXPECT_EQ(mean({}), 0.0);
  EXPECT_EQ(sample_stddev(std::vector<double>{3}), 0.0);  // llama-bench prints ± 0 for one repetition
  EXPECT_EQ(population_stddev({}), 0.0);
  EXPECT_EQ(percentile({}, 50), 0.0);
  EXPECT_EQ(percentile({7}, 99), 7.0);
  EXPECT_EQ(percentile({1, 2}, 250), 2.0);  // clamped
  EXPECT_EQ(standard_error(5, 25, 1), 0.0);
}

// The running-sum form against a two-pass float64 computation.
TEST(Stats, StandardErrorFromSums) {
  std::mt19937 rng(7);
  std::normal_distribution<double> d(3.0, 0.5);
  std::vector<double> x(1000);
  double s = 0, s2 = 0;
  for (double& v : x) {
    v = d(rng);
    s += v;
    s2 += v * v;
  }
  const double two_pass = population_stddev(x) / std::sqrt(double(x.size() - 1));
  EXPECT_NEAR(standard_error(s, s2, int64_t(x.size())), two_pass, 1e-12);
}

TEST(Format, Bytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.00 KiB");
  EXPECT_EQ(format_bytes(1185376), "1.13 MiB");
  EXPECT_EQ(format_bytes(2.2 * 1024 * 1024 * 1024), "2.20 GiB");
  EXPECT_EQ(format_bytes(1023.999), "1024 B");  // still below the next unit
  EXPECT_EQ(format_bytes(3.0 * 1024 * 1024 * 1024 * 1024 * 1024), "3072.00 TiB");
  EXPECT_EQ(byte_unit(0).size, 1.0);
  EXPECT_STREQ(byte_unit(1048575).name, "KiB");
  EXPECT_EQ(byte_unit(1048576).size, 1048576.0);
  EXPECT_STREQ(byte_unit(1048576).name, "MiB");
}

// One parser for every size flag (--memory-budget on plan/run/bench/serve, --kv-budget).
TEST(Format, ByteSizesParse) {
  EXPECT_EQ(parse_byte_size("1073741824", "x"), 1073741824u);
  EXPECT_EQ(parse_byte_size("8G", "x"), uint64_t(8) << 30);
  EXPECT_EQ(parse_byte_size("8GiB", "x"), uint64_t(8) << 30);
  EXPECT_EQ(parse_byte_size("512MiB", "x"), uint64_t(512) << 20);
  EXPECT_EQ(parse_byte_size("512M", "x"), uint64_t(512) << 20);
  EXPECT_EQ(parse_byte_size("1.5gb", "x"), uint64_t(3) << 29);
  EXPECT_EQ(parse_byte_size("64k", "x"), uint64_t(64) << 10);
  EXPECT_EQ(parse_byte_size("2T", "x"), uint64_t(2) << 40);
  for (const char* bad : {"", "G", "-1G", "1.2.3", "5X", "8GG", "1e9", "nan", "1e30T", "99999999999T", " 1G", "lots"}) {
    try {
      parse_byte_size(bad, "--memory-budget");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "--memory-budget " + std::string(bad) +
                                           ": expected a size in bytes such as 8G, 512MiB or 1073741824");
    }
  }
}

// ASCII only, whatever the locale: bytes of UTF-8 text are never changed.
TEST(Ascii, CaseOfNames) {
  EXPECT_TRUE(ascii_iequals("q4_k_m", "Q4_K_M"));
  EXPECT_FALSE(ascii_iequals("Q4_K", "Q4_K_M"));
  EXPECT_FALSE(ascii_iequals("Q4_0", "Q4_1"));
  EXPECT_FALSE(ascii_iequals("\xc3\xa9", "\xc3\x89"));  // é, É
  EXPECT_EQ(ascii_upper("iq4_nl-\xc3\xa9"), "IQ4_NL-\xc3\xa9");
  EXPECT_EQ(ascii_lower("Phi-3 Mini"), "phi-3 mini");
  static_assert(ascii_iequals("bf16", "BF16"));
}

// /proc/cpuinfo as x86-64 and aarch64 kernels print it (the aarch64 blocks
// have no "model name": the core comes from implementer and part).
TEST(CpuInfo, ParsesX86AndNamesArmCores) {
  const CpuInfo x86 = parse_cpuinfo(
      "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nphysical id\t: 0\ncore id\t\t: 0\n\n"
      "processor\t: 1\nmodel name\t: AMD EPYC 9R14\nphysical id\t: 0\ncore id\t\t: 0\n\n"
      "processor\t: 2\nmodel name\t: AMD EPYC 9R14\nphysical id\t: 0\ncore id\t\t: 1\n");
  EXPECT_EQ(x86.model, "AMD EPYC 9R14");
  EXPECT_EQ(x86.physical_cores, 2);

  auto arm_block = [](int cpu, const char* implementer, const char* part) {
    return "processor\t: " + std::to_string(cpu) +
           "\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp "
           "cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: " +
           implementer + "\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: " + part +
           "\nCPU revision\t: 1\n\n";
  };
  const CpuInfo graviton2 = parse_cpuinfo(arm_block(0, "0x41", "0xd0c") + arm_block(1, "0x41", "0xd0c"));
  EXPECT_EQ(graviton2.model, "Neoverse-N1");
  EXPECT_EQ(graviton2.physical_cores, 0);  // no core ids: detect_cpu counts logical ones
  // big.LITTLE: each distinct core once, in order.
  EXPECT_EQ(parse_cpuinfo(arm_block(0, "0x41", "0xd05") + arm_block(1, "0x41", "0xd05") + arm_block(2, "0x41", "0xd0b") +
                          arm_block(3, "0x41", "0xd44"))
                .model,
            "Cortex-A55 + Cortex-A76 + Cortex-X1");
  EXPECT_EQ(parse_cpuinfo(arm_block(0, "0x61", "0x999")).model, "Apple part 0x999");
  EXPECT_EQ(parse_cpuinfo(arm_block(0, "0x7f", "0x001")).model, "implementer 0x7f part 0x001");
  // Not numbers, or a part before any implementer: nothing is made up.
  EXPECT_EQ(parse_cpuinfo("CPU part\t: 0xd0c\nCPU implementer\t: zz\nCPU part\t: 0xd0c\n: x\n").model, "");
  EXPECT_EQ(parse_cpuinfo("").physical_cores, 0);
}

// macOS reports an M-series core's extensions as hw.optional.arm.FEAT_* sysctls.
TEST(CpuInfo, MacSysctlNamesGiveTheArmFeatures) {
  // An M1: FP16 and the dot product, no int8 matrix multiply.
  const ArmFeatures m1 = arm_features_from_sysctl([](const char* name) {
    const std::string n = name;
    return n == "hw.optional.arm.FEAT_FP16" || n == "hw.optional.arm.FEAT_DotProd";
  });
  EXPECT_TRUE(m1.asimd && m1.fphp && m1.asimdhp && m1.dotprod);
  EXPECT_FALSE(m1.i8mm || m1.sve);
  std::vector<std::string> asked;
  const ArmFeatures none = arm_features_from_sysctl([&](const char* name) {
    asked.push_back(name);
    return false;
  });
  EXPECT_TRUE(none.asimd);
  EXPECT_FALSE(none.dotprod || none.fphp || none.i8mm);
  EXPECT_EQ(asked, (std::vector<std::string>{"hw.optional.arm.FEAT_FP16", "hw.optional.arm.FEAT_DotProd",
                                             "hw.optional.arm.FEAT_I8MM"}));
}

TEST(Threads, OneRule) {
  const CpuInfo cpu = detect_cpu();
  EXPECT_EQ(default_thread_count(), std::max(1, std::min(cpu.physical_cores, cpu.logical_cores)));
  EXPECT_EQ(resolve_thread_count(0), default_thread_count());
  EXPECT_EQ(resolve_thread_count(-3), default_thread_count());
  EXPECT_EQ(resolve_thread_count(1), 1);
  const ThreadCount many = choose_thread_count(10000);
  EXPECT_TRUE(many.capped);
  EXPECT_EQ(many.threads, hardware_thread_count());
  EXPECT_FALSE(choose_thread_count(hardware_thread_count()).capped);
}

TEST(PeakRss, GrowsWithTouchedMemory) {
  const int64_t before = peak_rss_bytes();
  ASSERT_GT(before, 0);
  const size_t n = size_t(96) << 20;
  std::vector<char> big(n);
  for (size_t i = 0; i < n; i += 4096) big[i] = char(i);
  const int64_t after = peak_rss_bytes();
  EXPECT_GE(after, before);
  EXPECT_GE(after, int64_t(n)) << "peak RSS below what this test just touched";
  EXPECT_NE(big[4096], 1);  // keep the touches
}

TEST(AtomicFile, CommitWritesAndAbandonLeavesNothing) {
  const fs::path dir = test::scratch_dir();
  const std::string path = (dir / "out.txt").string();
  {
    AtomicFile f(path);
    f.write("hello ");
    EXPECT_FALSE(fs::exists(path)) << "visible before commit";
    std::string big(300000, 'x');  // larger than the buffer
    f.write(big);
    f.commit();
  }
  EXPECT_EQ(slurp(path), "hello " + std::string(300000, 'x'));
  {
    AtomicFile f(path);
    f.write("replacement");
  }  // no commit: the old file stays, no temporary remains
  EXPECT_EQ(listing(dir), std::vector<std::string>{"out.txt"});
  EXPECT_EQ(slurp(path).size(), 300006u);
  write_file_atomically(path, "new");
  EXPECT_EQ(slurp(path), "new");
}

TEST(AtomicFile, FullDiskNamesTheFileAndTheReasonAndLeavesNothing) {
  const fs::path dir = test::scratch_dir();
  const std::string path = (dir / "results.json").string();
  for (rlim_t limit : {rlim_t(0), rlim_t(10), rlim_t(70000)}) {
    const std::string msg = test::in_child(test::file_size_limit(limit), [&] {
      return test::input_error_of([&] { write_file_atomically(path, std::string(100000, 'r')); });
    });
    EXPECT_EQ(msg.rfind(path + ": cannot write " + path + ".tmp.", 0), 0u) << msg;
    EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
    EXPECT_TRUE(listing(dir).empty()) << "limit " << limit;
  }
}

TEST(AtomicFile, UnwritableDirectoryIsOneLine) {
  try {
    write_file_atomically("/nonexistent-dir/x.json", "{}");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("/nonexistent-dir/x.json: cannot create ", 0), 0u) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
}

TEST(AtomicFile, DevicesAreWrittenInPlace) {
  write_file_atomically("/dev/null", "discarded");
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  EXPECT_FALSE(fs::exists("/dev/null.tmp." + std::to_string(::getpid())));
}

// The repacked weights' and the bandwidth kernel's memory: zeroed, 2 MiB
// aligned unless QINFER_NO_HUGEPAGES opts out, writable end to end, and it
// moves (the model keeps it in a vector).
TEST(HugeBuffer, ZeroedAlignedAndMovable) {
  const size_t bytes = (size_t(3) << 20) + 123;
  HugeBuffer b(bytes);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), bytes);
  if (huge_pages_allowed_by_env()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (size_t(2) << 20), 0u);
  }
  size_t nonzero = 0;
  for (size_t i = 0; i < bytes; ++i) nonzero += b.data()[i] != 0;
  EXPECT_EQ(nonzero, 0u);
  std::memset(b.data(), 7, bytes);
  HugeBuffer moved(std::move(b));
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.size(), 0u);
  ASSERT_EQ(moved.size(), bytes);
  EXPECT_EQ(moved.data()[bytes - 1], 7);
  HugeBuffer other;
  other = std::move(moved);
  EXPECT_EQ(other.data()[0], 7);
  EXPECT_EQ(HugeBuffer(0).data(), nullptr);
}

// huge_page_bytes reads the kernel's own account (smaps), in whole 2 MiB
// pages and never more than the buffer's padded size; where THP is on and
// not opted out, touched memory of a 2 MiB-aligned advised buffer gets some.
TEST(HugeBuffer, CountsTheHugePagesTheKernelGave) {
  const size_t bytes = size_t(8) << 20;
  HugeBuffer b(bytes);
  std::memset(b.data(), 1, bytes);
  const size_t huge = b.huge_page_bytes();
  EXPECT_EQ(huge % (size_t(2) << 20), 0u);
  EXPECT_LE(huge, bytes + (size_t(2) << 20));
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(thp, mode);
  if (mode.empty() || mode.find("[never]") != std::string::npos) {
    EXPECT_EQ(huge, 0u);
  } else if (b.huge()) {
    EXPECT_GT(huge, 0u) << "THP mode: " << mode;
  }
  EXPECT_EQ(HugeBuffer().huge_page_bytes(), 0u);
}
