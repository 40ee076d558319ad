#include "qinfer/core/huge_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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
