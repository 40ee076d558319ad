// SHA-256 (FIPS 180-4), streamed, for model-file identities in the store.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace qinfer {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::array<uint8_t, 32> digest();  // finalizes; the object is spent afterwards
  std::string hex();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// Hex digest of a whole file, read in 1 MiB pieces; InputError naming the file.
std::string sha256_file(const std::string& path);

}  // namespace qinfer
