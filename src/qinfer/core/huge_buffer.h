// Zeroed anonymous memory for large buffers that are streamed whole (the
// repacked weights a decode step reads once each): aligned to 2 MiB and, on
// Linux, advised into transparent huge pages. With 4 KiB pages every 4 KiB of
// a stream is a TLB miss and a point where the hardware prefetcher stops;
// with 2 MiB pages neither happens (the cost: up to 2 MiB of padding).
// QINFER_NO_HUGEPAGES=1 keeps 4 KiB pages, for comparison.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qinfer {

class HugeBuffer {
 public:
  HugeBuffer() = default;
  explicit HugeBuffer(size_t bytes);  // throws Error when the memory cannot be mapped
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& o) noexcept;
  HugeBuffer& operator=(HugeBuffer&& o) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool huge() const { return huge_; }  // advised into huge pages
  // Bytes of this buffer the kernel actually backs with huge pages now
  // (AnonHugePages of its mapping in /proc/self/smaps; 0 where there is none).
  size_t huge_page_bytes() const;

 private:
  void release();
  void* map_ = nullptr;  // the mapping (data_ is its 2 MiB-aligned start)
  size_t map_bytes_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool huge_ = false;
};

// False when QINFER_NO_HUGEPAGES is set to anything but "" or "0".
bool huge_pages_allowed_by_env();

}  // namespace qinfer
