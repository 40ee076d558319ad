// A named, typed view over weight bytes (mmap'd file data or an owned buffer).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "qinfer/quant/type_registry.h"

namespace qinfer {

struct Tensor {
  std::string name;
  TypeId type = TypeId::F32;
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] contiguous (row length)
  int n_dims = 1;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  // The rows in the type's packed layout (kernels/packed.h), made at load
  // (model/repack.h); the matmul reads these instead of `data` when set.
  const uint8_t* packed = nullptr;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return row_size(type, ne[0]); }
  const uint8_t* row(int64_t r) const { return data + size_t(r) * row_bytes(); }
  std::string shape_string() const;
};

}  // namespace qinfer
