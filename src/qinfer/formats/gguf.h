// GGUF v2/v3 reader: metadata of every value type (arrays nest), tensor
// infos validated against the file size, tensor data used in place via mmap.
// Hostile files give InputError("<path>: <problem>"), never a crash or a huge
// allocation.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qinfer/core/mapped_file.h"
#include "qinfer/quant/type_id.h"

namespace qinfer {

enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* gguf_type_name(GgufType t);

struct GgufValue {
  GgufType type = GgufType::UINT8;
  GgufType elem_type = GgufType::UINT8;  // ARRAY only
  uint64_t u = 0;       // unsigned integers and BOOL
  int64_t i = 0;        // signed integers
  double f = 0.0;       // FLOAT32 / FLOAT64
  std::string s;        // STRING
  std::vector<GgufValue> arr;  // ARRAY

  bool is_integer() const;
  bool is_float() const { return type == GgufType::FLOAT32 || type == GgufType::FLOAT64; }
  // Converting accessors; throw Error naming the type when it does not fit.
  int64_t as_int() const;
  double as_double() const;
  bool as_bool() const;
  const std::string& as_string() const;
  std::vector<std::string> as_string_array() const;
  std::vector<float> as_float_array() const;
  std::vector<int32_t> as_int32_array() const;
  // A short human rendering (arrays abbreviated) for `qinfer info`.
  std::string to_display(size_t max_items = 8) const;
};

struct GgufTensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the contiguous dimension
  TypeId type = TypeId::F32;
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[64, 512]"
};

class GgufFile {
 public:
  // Reads and validates the whole header; maps the file.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses a buffer in memory (used by fuzzing); `name` is used in messages.
  static std::unique_ptr<GgufFile> parse(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  // Typed getters with defaults; a present key of the wrong type is an InputError.
  std::string get_string(std::string_view key, const std::string& def = "") const;
  int64_t get_int(std::string_view key, int64_t def) const;
  double get_float(std::string_view key, double def) const;
  bool get_bool(std::string_view key, bool def) const;
  // Throw InputError("<path>: missing metadata key <key>") when absent.
  std::string require_string(std::string_view key) const;
  int64_t require_int(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const { return base_ + data_offset_ + t.offset; }
  // Whether [p, p + n) lies in the file's mapping (tensor data not converted at load).
  bool maps(const void* p, size_t n) const {
    const auto* b = static_cast<const uint8_t*>(p);
    return map_ && base_ && b >= base_ && n <= size_ && size_t(b - base_) <= size_ - n;
  }

 private:
  GgufFile() = default;
  void parse_all();

  std::string path_;
  std::unique_ptr<MappedFile> map_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace qinfer
