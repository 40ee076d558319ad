// GGUF v3 writer (little endian): metadata of every value type, tensors given
// as bytes or streamed by a callback, padded to `general.alignment` (32 when
// absent). The file appears under its final name only when complete: it is
// written to "<path>.tmp.<pid>", fsync'ed, closed and renamed; any failure
// removes the temporary file and throws InputError("<path>: <problem>").
//
//   GgufWriter w;
//   w.copy_metadata(src);                       // keep everything, in order
//   w.set_uint32("general.file_type", 7);       // replace one value in place
//   for (const auto& t : src.tensors()) w.add_tensor_from(src, t);
//   w.write("out.gguf");
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "qinfer/formats/gguf.h"
#include "qinfer/quant/type_id.h"

namespace qinfer {

class GgufOut;  // gguf_writer.cpp

// Scalar metadata values; the C++ type picks the GGUF type exactly.
GgufValue gguf_scalar(uint8_t v);
GgufValue gguf_scalar(int8_t v);
GgufValue gguf_scalar(uint16_t v);
GgufValue gguf_scalar(int16_t v);
GgufValue gguf_scalar(uint32_t v);
GgufValue gguf_scalar(int32_t v);
GgufValue gguf_scalar(uint64_t v);
GgufValue gguf_scalar(int64_t v);
GgufValue gguf_scalar(float v);
GgufValue gguf_scalar(double v);
GgufValue gguf_scalar(bool v);
GgufValue gguf_scalar(std::string v);
// An array value; every element must have type `elem_type` (nested arrays allowed).
GgufValue gguf_array(GgufType elem_type, std::vector<GgufValue> elems);

// The GGUF type of a C++ element type, for GgufWriter::set_array.
template <typename T>
constexpr GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufType::UINT8;
  else if constexpr (std::is_same_v<T, int8_t>) return GgufType::INT8;
  else if constexpr (std::is_same_v<T, uint16_t>) return GgufType::UINT16;
  else if constexpr (std::is_same_v<T, int16_t>) return GgufType::INT16;
  else if constexpr (std::is_same_v<T, uint32_t>) return GgufType::UINT32;
  else if constexpr (std::is_same_v<T, int32_t>) return GgufType::INT32;
  else if constexpr (std::is_same_v<T, uint64_t>) return GgufType::UINT64;
  else if constexpr (std::is_same_v<T, int64_t>) return GgufType::INT64;
  else if constexpr (std::is_same_v<T, float>) return GgufType::FLOAT32;
  else if constexpr (std::is_same_v<T, double>) return GgufType::FLOAT64;
  else if constexpr (std::is_same_v<T, bool>) return GgufType::BOOL;
  else if constexpr (std::is_same_v<T, std::string>) return GgufType::STRING;
  else static_assert(sizeof(T) == 0, "no GGUF type for this element type");
}

// Streaming tensor data: the callback calls `write` any number of times with
// consecutive pieces; together they must be exactly the tensor's byte size.
using GgufWriteFn = std::function<void(const void* data, size_t n)>;
using GgufTensorDataFn = std::function<void(const GgufWriteFn& write)>;

class GgufWriter {
 public:
  static constexpr uint32_t kDefaultAlignment = 32;

  // ---- metadata: written in the order keys were first set; setting a key
  // again replaces its value in place. Invalid keys/values throw InputError.
  void set(std::string_view key, GgufValue value);
  void set_uint8(std::string_view key, uint8_t v) { set(key, gguf_scalar(v)); }
  void set_int8(std::string_view key, int8_t v) { set(key, gguf_scalar(v)); }
  void set_uint16(std::string_view key, uint16_t v) { set(key, gguf_scalar(v)); }
  void set_int16(std::string_view key, int16_t v) { set(key, gguf_scalar(v)); }
  void set_uint32(std::string_view key, uint32_t v) { set(key, gguf_scalar(v)); }
  void set_int32(std::string_view key, int32_t v) { set(key, gguf_scalar(v)); }
  void set_uint64(std::string_view key, uint64_t v) { set(key, gguf_scalar(v)); }
  void set_int64(std::string_view key, int64_t v) { set(key, gguf_scalar(v)); }
  void set_float32(std::string_view key, float v) { set(key, gguf_scalar(v)); }
  void set_float64(std::string_view key, double v) { set(key, gguf_scalar(v)); }
  void set_bool(std::string_view key, bool v) { set(key, gguf_scalar(v)); }
  void set_string(std::string_view key, std::string_view v) { set(key, gguf_scalar(std::string(v))); }
  // Arrays of uint8_t … double, bool or std::string.
  template <typename T>
  void set_array(std::string_view key, const std::vector<T>& values) {
    std::vector<GgufValue> elems;
    elems.reserve(values.size());
    for (const auto& x : values) elems.push_back(gguf_scalar(T(x)));
    set(key, gguf_array(gguf_type_of<T>(), std::move(elems)));
  }
  // Sets general.alignment (uint32); must be a power of two, a multiple of 8.
  void set_alignment(uint32_t alignment);
  // Copies every key of `src` in its order (replacing keys already set).
  void copy_metadata(const GgufFile& src);
  // Removes a key; false when it was not set.
  bool remove(std::string_view key);
  const GgufValue* find(std::string_view key) const;
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  // general.alignment when set, otherwise 32.
  uint32_t alignment() const;

  // ---- tensors, written in the order added. `ne` is in ggml order (ne[0]
  // contiguous), 0..4 dims. Invalid names, shapes or types throw InputError.
  // `data` (exactly `nbytes`, the tensor's size) is borrowed until write().
  void add_tensor(std::string name, TypeId type, const std::vector<int64_t>& ne, const void* data, size_t nbytes);
  // `fill` is called during write() to stream the data.
  void add_tensor(std::string name, TypeId type, const std::vector<int64_t>& ne, GgufTensorDataFn fill);
  // Same name, shape, type and bytes as `t` of `src`; `src` must outlive write().
  void add_tensor_from(const GgufFile& src, const GgufTensorInfo& t);
  size_t tensor_count() const { return tensors_.size(); }
  // Bytes of a tensor of this type and shape; throws InputError when invalid.
  static uint64_t tensor_nbytes(TypeId type, const std::vector<int64_t>& ne);

  // Writes the file (may be called again, e.g. to write copies). Exceptions
  // thrown by a data callback are rethrown unchanged after the cleanup.
  void write(const std::string& path) const;
  // Streams the same bytes to `sink` instead (in memory, hashing, sockets);
  // errors are InputError("<name>: <problem>").
  void write_to(const GgufWriteFn& sink, const std::string& name = "<memory>") const;

 private:
  struct Tensor {
    std::string name;
    TypeId type;
    std::vector<int64_t> ne;
    uint64_t nbytes;
    const void* data;       // when not streamed
    GgufTensorDataFn fill;  // when streamed
  };
  void add(Tensor t);
  void serialize(GgufOut& out) const;

  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace qinfer
