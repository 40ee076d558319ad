// Hugging Face safetensors: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}
// and the raw little-endian tensor bytes, offsets relative to the end of the
// header. The reader maps the file and validates the header hard (offsets
// inside the file, size = product(shape) · dtype size, no two tensors
// overlapping) so tensor data can be used in place; every problem is an
// InputError("<path>: <problem>"). Dtypes: the floats F32, F16, BF16 and the
// integers I32, I8, U8 that quantized checkpoints (GPTQ, AWQ, bitsandbytes) hold.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qinfer/core/mapped_file.h"

namespace qinfer {

enum class StDtype { F32, F16, BF16, I32, I8, U8 };
const char* st_dtype_name(StDtype t);  // "F32", "F16", "BF16", "I32", "I8", "U8"
size_t st_dtype_size(StDtype t);
bool st_dtype_is_float(StDtype t);

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;  // numpy order: shape.back() is contiguous
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  int64_t n_elements() const;
  std::string shape_string() const;  // "[512, 64]"
};

class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  // Parses a buffer in memory (tests, fuzzing); `name` is used in messages.
  static std::unique_ptr<SafetensorsFile> parse(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  // Sorted by name, as safetensors' safe_open().keys() lists them.
  const std::vector<StTensor>& tensors() const { return tensors_; }
  const StTensor* find(std::string_view name) const;

 private:
  SafetensorsFile() = default;
  void parse_header(const uint8_t* data, size_t size);

  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::vector<StTensor> tensors_;
};

// One tensor for write_safetensors; `data` holds product(shape) elements.
struct StTensorOut {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// Writes a safetensors file (header padded with spaces to 8 bytes, tensors in
// the given order, optional string metadata as "__metadata__"), atomically:
// the file appears under `path` only when complete. Used by the Hugging Face
// export and by tests to build checkpoints.
void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace qinfer
