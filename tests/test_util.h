// Shared helpers for tests: where ../shared/data is, and skipping when absent.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>
#include <unistd.h>

namespace qinfer::test {

inline std::string shared_data() {
  if (const char* env = std::getenv("QINFER_SHARED_DATA")) return env;
  return QINFER_SHARED_DATA;
}

inline std::string data_path(const std::string& rel) { return shared_data() + "/" + rel; }

// Removes every scratch directory when the test binary exits.
struct ScratchCleaner {
  std::vector<std::filesystem::path> dirs;
  ~ScratchCleaner() {
    for (const auto& d : dirs) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }
};
inline ScratchCleaner scratch_cleaner;

// A scratch directory unique to the running test, removed and recreated
// (and removed again at exit).
inline std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("qinfer-test-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  scratch_cleaner.dirs.push_back(dir);
  return dir;
}

}  // namespace qinfer::test

#define QINFER_REQUIRE_DATA(rel)                                                        \
  do {                                                                                  \
    if (!std::filesystem::exists(::qinfer::test::data_path(rel)))                        \
      GTEST_SKIP() << "missing shared data: " << ::qinfer::test::data_path(rel);        \
  } while (0)
