#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxArrayDepth = 4;
constexpr uint64_t kMaxNameLen = 65535;
constexpr int64_t kMaxElements = int64_t(1) << 50;  // per tensor
// Decoded metadata and tensor infos take more memory than their bytes on disk
// (a uint8 array element becomes a GgufValue of ~90 bytes), so a hostile file
// could ask for ~100x its size. Real files need tens of MiB at most.
constexpr uint64_t kMaxDecodedBytes = uint64_t(512) << 20;

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    case GgufType::STRING: return 8;  // at least its length field
    case GgufType::ARRAY: return 12;  // at least elem type + count
  }
  return 0;
}

bool valid_type(uint32_t t) { return t <= uint32_t(GgufType::FLOAT64); }

// Bounds-checked little-endian cursor over the file bytes.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, const std::string& name) : p_(p), n_(n), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(name_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }

  // Counts memory for decoded values against kMaxDecodedBytes.
  void charge(uint64_t bytes, const std::string& what) {
    if (bytes > kMaxDecodedBytes - decoded_)
      fail(what + ": metadata and tensor infos would need more than " + std::to_string(kMaxDecodedBytes >> 20) +
           " MiB of memory");
    decoded_ += bytes;
  }

  template <typename T>
  T read(const char* what) {
    if (remaining() < sizeof(T)) fail(std::string("truncated file while reading ") + what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    uint64_t len = read<uint64_t>(what);
    if (len > remaining()) fail(std::string(what) + " length " + std::to_string(len) + " runs past the end of the file");
    charge(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
    pos_ += size_t(len);
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  const std::string& name_;
  size_t pos_ = 0;
  uint64_t decoded_ = 0;
};

void read_value(Cursor& c, GgufType type, GgufValue& v, int depth, const std::string& key) {
  v.type = type;
  switch (type) {
    case GgufType::UINT8: v.u = c.read<uint8_t>("value"); break;
    case GgufType::INT8: v.i = c.read<int8_t>("value"); break;
    case GgufType::UINT16: v.u = c.read<uint16_t>("value"); break;
    case GgufType::INT16: v.i = c.read<int16_t>("value"); break;
    case GgufType::UINT32: v.u = c.read<uint32_t>("value"); break;
    case GgufType::INT32: v.i = c.read<int32_t>("value"); break;
    case GgufType::UINT64: v.u = c.read<uint64_t>("value"); break;
    case GgufType::INT64: v.i = c.read<int64_t>("value"); break;
    case GgufType::FLOAT32: v.f = c.read<float>("value"); break;
    case GgufType::FLOAT64: v.f = c.read<double>("value"); break;
    case GgufType::BOOL: {
      uint8_t b = c.read<uint8_t>("value");
      if (b > 1) c.fail("metadata " + key + ": bool value " + std::to_string(b) + " is not 0 or 1");
      v.u = b;
      break;
    }
    case GgufType::STRING: v.s = c.read_string("string value"); break;
    case GgufType::ARRAY: {
      if (depth >= kMaxArrayDepth) c.fail("metadata " + key + ": arrays nested too deeply");
      uint32_t et = c.read<uint32_t>("array type");
      if (!valid_type(et)) c.fail("metadata " + key + ": unknown array element type " + std::to_string(et));
      v.elem_type = GgufType(et);
      uint64_t count = c.read<uint64_t>("array length");
      // Each element needs at least scalar_size bytes: reject counts the file cannot hold.
      if (count > c.remaining() / scalar_size(v.elem_type))
        c.fail("metadata " + key + ": array of " + std::to_string(count) + " elements runs past the end of the file");
      if (count > kMaxDecodedBytes / sizeof(GgufValue)) c.charge(kMaxDecodedBytes, "metadata " + key);
      c.charge(count * sizeof(GgufValue), "metadata " + key);
      v.arr.resize(size_t(count));
      for (auto& e : v.arr) read_value(c, v.elem_type, e, depth + 1, key);
      break;
    }
  }
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                "bool", "string", "array", "uint64", "int64", "float64"};
  return valid_type(uint32_t(t)) ? names[uint32_t(t)] : "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::UINT16: case GgufType::INT16:
    case GgufType::UINT32: case GgufType::INT32: case GgufType::UINT64: case GgufType::INT64:
      return true;
    default:
      return false;
  }
}

int64_t GgufValue::as_int() const {
  switch (type) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::BOOL:
      return int64_t(u);
    case GgufType::UINT64:
      if (u > uint64_t(std::numeric_limits<int64_t>::max())) throw Error("uint64 value too large");
      return int64_t(u);
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
      return i;
    default:
      throw Error(std::string("expected an integer, found ") + gguf_type_name(type));
  }
}

double GgufValue::as_double() const {
  if (is_float()) return f;
  if (is_integer()) return double(as_int());
  throw Error(std::string("expected a number, found ") + gguf_type_name(type));
}

bool GgufValue::as_bool() const {
  if (type == GgufType::BOOL) return u != 0;
  if (is_integer()) return as_int() != 0;
  throw Error(std::string("expected a bool, found ") + gguf_type_name(type));
}

const std::string& GgufValue::as_string() const {
  if (type != GgufType::STRING) throw Error(std::string("expected a string, found ") + gguf_type_name(type));
  return s;
}

std::vector<std::string> GgufValue::as_string_array() const {
  if (type != GgufType::ARRAY || elem_type != GgufType::STRING)
    throw Error("expected an array of strings");
  std::vector<std::string> out;
  out.reserve(arr.size());
  for (const auto& e : arr) out.push_back(e.s);
  return out;
}

std::vector<float> GgufValue::as_float_array() const {
  if (type != GgufType::ARRAY) throw Error("expected an array of numbers");
  std::vector<float> out;
  out.reserve(arr.size());
  for (const auto& e : arr) out.push_back(float(e.as_double()));
  return out;
}

std::vector<int32_t> GgufValue::as_int32_array() const {
  if (type != GgufType::ARRAY) throw Error("expected an array of integers");
  std::vector<int32_t> out;
  out.reserve(arr.size());
  for (const auto& e : arr) out.push_back(int32_t(e.as_int()));
  return out;
}

std::string GgufValue::to_display(size_t max_items) const {
  std::ostringstream os;
  switch (type) {
    case GgufType::STRING: {
      std::string t = s.size() > 60 ? s.substr(0, 57) + "..." : s;
      for (char& ch : t) if (ch == '\n') ch = ' ';
      os << '"' << t << '"';
      break;
    }
    case GgufType::BOOL: os << (u ? "true" : "false"); break;
    case GgufType::FLOAT32: case GgufType::FLOAT64: os << f; break;
    case GgufType::ARRAY: {
      os << gguf_type_name(elem_type) << "[" << arr.size() << "] [";
      for (size_t k = 0; k < arr.size() && k < max_items; ++k) os << (k ? ", " : "") << arr[k].to_display(0);
      if (arr.size() > max_items) os << ", ...";
      os << "]";
      break;
    }
    default: os << (is_integer() && (type == GgufType::INT8 || type == GgufType::INT16 || type == GgufType::INT32 || type == GgufType::INT64) ? std::to_string(i) : std::to_string(u));
  }
  return os.str();
}

std::string GgufTensorInfo::shape_string() const {
  std::string s = "[";
  for (uint32_t d = 0; d < std::max<uint32_t>(n_dims, 1); ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->map_ = std::make_unique<MappedFile>(path);
  f->base_ = f->map_->data();
  f->size_ = f->map_->size();
  f->parse_all();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, const std::string& name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = name;
  f->base_ = data;
  f->size_ = size;
  f->parse_all();
  return f;
}

void GgufFile::parse_all() {
  Cursor c(base_, size_, path_);
  if (size_ < 4) c.fail("file too small to be GGUF");
  uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) c.fail("not a GGUF file (bad magic)");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) c.fail("GGUF version 1 is not supported (re-convert the model)");
  if (version_ >= 0x00010000u) c.fail("big-endian GGUF is not supported");
  if (version_ != 2 && version_ != 3) c.fail("unsupported GGUF version " + std::to_string(version_));
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Every KV needs >= 8 (key len) + 4 (type) + 1 bytes; every tensor info >= 8+4+4+8.
  if (n_kv > c.remaining() / 13) c.fail("metadata count " + std::to_string(n_kv) + " is larger than the file can hold");
  if (n_tensors > c.remaining() / 24) c.fail("tensor count " + std::to_string(n_tensors) + " is larger than the file can hold");

  // Reserve only what a plausible file has: the counts are not trusted yet.
  kv_.reserve(size_t(std::min<uint64_t>(n_kv, 4096)));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.read_string("metadata key");
    if (key.empty() || key.size() > kMaxNameLen) c.fail("metadata key " + std::to_string(k) + " has invalid length");
    c.charge(sizeof(kv_[0]) + 64 + key.size(), "metadata " + key);  // entry + index node
    uint32_t t = c.read<uint32_t>("metadata type");
    if (!valid_type(t)) c.fail("metadata " + key + ": unknown value type " + std::to_string(t));
    GgufValue v;
    read_value(c, GgufType(t), v, 0, key);
    if (kv_index_.count(key)) c.fail("duplicate metadata key " + key);
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer()) c.fail("general.alignment is not an integer");
    // Say which rule a value breaks: a power of two, a multiple of 8 (the GGUF
    // spec), at most 1 MiB (more is no real alignment, and the padding could
    // run past small files).
    constexpr uint64_t kMaxAlignment = 1 << 20;
    const auto too_large = [&](const std::string& v) {
      c.fail("general.alignment " + v + " is too large (at most " + std::to_string(kMaxAlignment) + ")");
    };
    // as_int() would throw a plain Error (no file name) for a uint64 above 2^63.
    if (a->type == GgufType::UINT64 && a->u > kMaxAlignment) too_large(std::to_string(a->u));
    int64_t al = a->as_int();
    if (al <= 0) c.fail("general.alignment " + std::to_string(al) + " must be a positive power of two");
    if (uint64_t(al) > kMaxAlignment) too_large(std::to_string(al));
    if ((al & (al - 1)) != 0) c.fail("general.alignment " + std::to_string(al) + " is not a power of two");
    if (al % 8 != 0) c.fail("general.alignment " + std::to_string(al) + " is not a multiple of 8");
    alignment_ = uint32_t(al);
  }

  tensors_.reserve(size_t(std::min<uint64_t>(n_tensors, 4096)));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo ti;
    ti.name = c.read_string("tensor name");
    if (ti.name.empty() || ti.name.size() > 256) c.fail("tensor " + std::to_string(k) + " has an invalid name length");
    const std::string where = "tensor " + ti.name;
    c.charge(sizeof(GgufTensorInfo) + 64 + ti.name.size(), where);  // info + index node
    ti.n_dims = c.read<uint32_t>("tensor dims");
    if (ti.n_dims > 4) c.fail(where + ": " + std::to_string(ti.n_dims) + " dimensions (at most 4)");
    for (uint32_t d = 0; d < ti.n_dims; ++d) {
      uint64_t n = c.read<uint64_t>("tensor dim");
      if (n == 0 || n > (uint64_t(1) << 40)) c.fail(where + ": dimension " + std::to_string(d) + " is " + std::to_string(n));
      ti.ne[d] = int64_t(n);
    }
    uint32_t raw_type = c.read<uint32_t>("tensor type");
    const TypeInfo* info = find_type(raw_type);
    if (!info) c.fail(where + ": unknown or unsupported tensor type " + std::to_string(raw_type));
    ti.type = info->id;
    ti.offset = c.read<uint64_t>("tensor offset");
    // Element count must not overflow: each dim <= 2^40 but the product can
    // (four of them even overflow __int128), so check after every factor.
    int64_t nel = 1;
    for (int d = 0; d < 4; ++d) {
      if (nel > kMaxElements / ti.ne[d]) c.fail(where + ": element count overflows (shape " + ti.shape_string() + ")");
      nel *= ti.ne[d];
    }
    if (ti.ne[0] % info->block_size != 0)
      c.fail(where + ": row length " + std::to_string(ti.ne[0]) + " is not a multiple of the " + info->name +
             " block size " + std::to_string(info->block_size));
    ti.nbytes = uint64_t(nel / info->block_size) * info->type_size + uint64_t(nel / ti.ne[0]) * info->row_header;
    if (tensor_index_.count(ti.name)) c.fail("duplicate tensor name " + ti.name);
    tensor_index_.emplace(ti.name, tensors_.size());
    tensors_.push_back(std::move(ti));
  }

  uint64_t pos = c.pos();
  data_offset_ = pos + (alignment_ - pos % alignment_) % alignment_;
  if (n_tensors > 0 && data_offset_ > size_) c.fail("file ends before the tensor data section");
  const uint64_t data_size = size_ >= data_offset_ ? size_ - data_offset_ : 0;
  for (const auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      throw InputError(path_ + ": tensor " + t.name + ": offset " + std::to_string(t.offset) + " is not aligned to " +
                       std::to_string(alignment_));
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw InputError(path_ + ": tensor " + t.name + ": data (offset " + std::to_string(t.offset) + ", " +
                       std::to_string(t.nbytes) + " bytes) runs past the end of the file (file truncated?)");
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
template <typename F>
auto checked(const GgufFile& f, std::string_view key, F&& fn) {
  try {
    return fn();
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    throw InputError(f.path() + ": metadata " + std::string(key) + ": " + e.what());
  }
}
}  // namespace

std::string GgufFile::get_string(std::string_view key, const std::string& def) const {
  const GgufValue* v = find(key);
  return v ? checked(*this, key, [&] { return v->as_string(); }) : def;
}
int64_t GgufFile::get_int(std::string_view key, int64_t def) const {
  const GgufValue* v = find(key);
  return v ? checked(*this, key, [&] { return v->as_int(); }) : def;
}
double GgufFile::get_float(std::string_view key, double def) const {
  const GgufValue* v = find(key);
  return v ? checked(*this, key, [&] { return v->as_double(); }) : def;
}
bool GgufFile::get_bool(std::string_view key, bool def) const {
  const GgufValue* v = find(key);
  return v ? checked(*this, key, [&] { return v->as_bool(); }) : def;
}
std::string GgufFile::require_string(std::string_view key) const {
  if (!find(key)) throw InputError(path_ + ": missing metadata key " + std::string(key));
  return get_string(key);
}
int64_t GgufFile::require_int(std::string_view key) const {
  if (!find(key)) throw InputError(path_ + ": missing metadata key " + std::string(key));
  return get_int(key, 0);
}

}  // namespace qinfer
