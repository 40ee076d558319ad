#include "qinfer/core/huge_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "qinfer/core/error.h"

namespace qinfer {

namespace {
constexpr size_t kHuge = size_t(2) << 20;
}  // namespace

bool huge_pages_allowed_by_env() {
  const char* env = std::getenv("QINFER_NO_HUGEPAGES");
  return !env || !*env || std::strcmp(env, "0") == 0;
}

HugeBuffer::HugeBuffer(size_t bytes) {
  if (bytes == 0) return;
  const bool want_huge = huge_pages_allowed_by_env();
  // Room to slide the start to a 2 MiB boundary; the whole tail rounded to
  // 2 MiB so the last huge page is not cut.
  const size_t padded = (bytes + kHuge - 1) / kHuge * kHuge;
  map_bytes_ = want_huge ? padded + kHuge : bytes;
  void* p = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error("cannot map " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(errno));
  map_ = p;
  data_ = static_cast<uint8_t*>(p);
  size_ = bytes;
  if (want_huge) {
    data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHuge - 1) / kHuge * kHuge);
#ifdef MADV_HUGEPAGE
    // Advice only: where THP is off the pages stay 4 KiB, which is still correct.
    huge_ = ::madvise(data_, padded, MADV_HUGEPAGE) == 0;
#endif
  }
}

size_t HugeBuffer::huge_page_bytes() const {
  if (!data_) return 0;
  std::ifstream smaps("/proc/self/smaps");
  // madvise splits the mapping, so every mapping overlapping the buffer counts.
  const uintptr_t first = reinterpret_cast<uintptr_t>(data_), last = first + size_;
  size_t total = 0;
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    // A mapping's header: "start-end perms ..."; its fields follow, one per line ("Name:   value").
    const size_t dash = line.find('-');
    if (dash != std::string::npos && dash > 0 && line.find(':') > line.find(' ')) {
      char* end = nullptr;
      const uintptr_t lo = std::strtoull(line.c_str(), &end, 16);
      if (end == line.c_str() + dash) {
        const uintptr_t hi = std::strtoull(line.c_str() + dash + 1, nullptr, 16);
        inside = lo < last && first < hi;
        continue;
      }
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0)
      total += size_t(std::strtoull(line.c_str() + 14, nullptr, 10)) * 1024;
  }
  return total;
}

void HugeBuffer::release() {
  if (map_) ::munmap(map_, map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
  data_ = nullptr;
  size_ = 0;
  huge_ = false;
}

HugeBuffer::~HugeBuffer() { release(); }

HugeBuffer::HugeBuffer(HugeBuffer&& o) noexcept
    : map_(std::exchange(o.map_, nullptr)),
      map_bytes_(std::exchange(o.map_bytes_, 0)),
      data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      huge_(std::exchange(o.huge_, false)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    release();
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    huge_ = std::exchange(o.huge_, false);
  }
  return *this;
}

}  // namespace qinfer
