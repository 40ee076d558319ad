#include "qinfer/formats/gguf_writer.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

static_assert(std::endian::native == std::endian::little, "the GGUF writer assumes a little-endian host");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kVersion = 3;
// Limits shared with the reader, so that whatever we write reads back.
constexpr int kMaxArrayDepth = 4;
constexpr size_t kMaxKeyLen = 65535;
constexpr size_t kMaxTensorNameLen = 63;  // llama.cpp: GGML_MAX_NAME (64) including the NUL
constexpr int64_t kMaxDim = int64_t(1) << 40;
constexpr int64_t kMaxElements = int64_t(1) << 50;

uint64_t align_up(uint64_t n, uint64_t a) { return n + (a - n % a) % a; }

void check_value(const GgufValue& v, int depth, const std::string& key) {
  auto bad = [&](const std::string& what) { throw InputError("GGUF metadata " + key + ": " + what); };
  switch (v.type) {
    case GgufType::UINT8: if (v.u > 0xff) bad("uint8 value out of range"); break;
    case GgufType::UINT16: if (v.u > 0xffff) bad("uint16 value out of range"); break;
    case GgufType::UINT32: if (v.u > 0xffffffffu) bad("uint32 value out of range"); break;
    case GgufType::INT8: if (v.i < -128 || v.i > 127) bad("int8 value out of range"); break;
    case GgufType::INT16: if (v.i < -32768 || v.i > 32767) bad("int16 value out of range"); break;
    case GgufType::INT32:
      if (v.i < std::numeric_limits<int32_t>::min() || v.i > std::numeric_limits<int32_t>::max())
        bad("int32 value out of range");
      break;
    case GgufType::BOOL: if (v.u > 1) bad("bool value is not 0 or 1"); break;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT32: case GgufType::FLOAT64:
    case GgufType::STRING:
      break;
    case GgufType::ARRAY:
      if (depth >= kMaxArrayDepth) bad("arrays nested too deeply");
      if (uint32_t(v.elem_type) > uint32_t(GgufType::FLOAT64)) bad("unknown array element type");
      for (const GgufValue& e : v.arr) {
        if (e.type != v.elem_type)
          bad(std::string("array of ") + gguf_type_name(v.elem_type) + " holds a " + gguf_type_name(e.type));
        check_value(e, depth + 1, key);
      }
      break;
    default:
      bad("unknown value type " + std::to_string(uint32_t(v.type)));
  }
}

}  // namespace

// Buffered little-endian output with a position, for the header and data.
class GgufOut {
 public:
  GgufOut(std::string name, size_t buf_size) : name_(std::move(name)), buf_size_(buf_size) { buf_.reserve(buf_size_); }
  virtual ~GgufOut() = default;
  GgufOut(const GgufOut&) = delete;
  GgufOut& operator=(const GgufOut&) = delete;

  [[noreturn]] virtual void fail(const std::string& problem, int err = 0) {
    throw InputError(name_ + ": " + problem + (err ? std::string(": ") + std::strerror(err) : std::string()));
  }

  uint64_t pos() const { return pos_; }

  void put(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    pos_ += n;
    if (buf_.size() + n <= buf_size_) {
      buf_.insert(buf_.end(), p, p + n);
      return;
    }
    flush();
    if (n >= buf_size_) {
      emit(p, n);
    } else {
      buf_.insert(buf_.end(), p, p + n);
    }
  }
  template <typename T>
  void put_le(T v) {
    put(&v, sizeof(v));
  }
  void put_string(const std::string& s) {
    put_le<uint64_t>(s.size());
    put(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const uint8_t zeros[256] = {};
    uint64_t n = align_up(pos_, alignment) - pos_;
    while (n > 0) {
      size_t k = size_t(std::min<uint64_t>(n, sizeof(zeros)));
      put(zeros, k);
      n -= k;
    }
  }
  void flush() {
    if (!buf_.empty()) emit(buf_.data(), buf_.size());
    buf_.clear();
  }

 protected:
  virtual void emit(const uint8_t* p, size_t n) = 0;
  std::string name_;

 private:
  size_t buf_size_;
  uint64_t pos_ = 0;
  std::vector<uint8_t> buf_;
};

namespace {

class SinkOut final : public GgufOut {
 public:
  SinkOut(const GgufWriteFn& sink, std::string name) : GgufOut(std::move(name), size_t(1) << 16), sink_(sink) {}

 private:
  void emit(const uint8_t* p, size_t n) override { sink_(p, n); }
  const GgufWriteFn& sink_;
};

// Output through core's AtomicFile: nothing under <path> until commit(),
// and every failure (ours or an exception from a data callback) removes the
// temporary file.
class FileOut final : public GgufOut {
 public:
  explicit FileOut(const std::string& path) : GgufOut(path, size_t(1) << 20), file_(path) {}

  [[noreturn]] void fail(const std::string& problem, int err = 0) override { file_.fail(problem, err); }

  void commit() {
    flush();
    file_.commit();
  }

 private:
  void emit(const uint8_t* p, size_t n) override { file_.write(p, n); }

  AtomicFile file_;
};

void put_value(GgufOut& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::UINT8: out.put_le<uint8_t>(uint8_t(v.u)); break;
    case GgufType::INT8: out.put_le<int8_t>(int8_t(v.i)); break;
    case GgufType::UINT16: out.put_le<uint16_t>(uint16_t(v.u)); break;
    case GgufType::INT16: out.put_le<int16_t>(int16_t(v.i)); break;
    case GgufType::UINT32: out.put_le<uint32_t>(uint32_t(v.u)); break;
    case GgufType::INT32: out.put_le<int32_t>(int32_t(v.i)); break;
    case GgufType::UINT64: out.put_le<uint64_t>(v.u); break;
    case GgufType::INT64: out.put_le<int64_t>(v.i); break;
    case GgufType::FLOAT32: out.put_le<float>(float(v.f)); break;
    case GgufType::FLOAT64: out.put_le<double>(v.f); break;
    case GgufType::BOOL: out.put_le<uint8_t>(v.u ? 1 : 0); break;
    case GgufType::STRING: out.put_string(v.s); break;
    case GgufType::ARRAY:
      out.put_le<uint32_t>(uint32_t(v.elem_type));
      out.put_le<uint64_t>(v.arr.size());
      for (const GgufValue& e : v.arr) put_value(out, e);
      break;
  }
}

}  // namespace

// ---- values ----------------------------------------------------------------

GgufValue gguf_scalar(uint8_t v) { GgufValue r; r.type = GgufType::UINT8; r.u = v; return r; }
GgufValue gguf_scalar(int8_t v) { GgufValue r; r.type = GgufType::INT8; r.i = v; return r; }
GgufValue gguf_scalar(uint16_t v) { GgufValue r; r.type = GgufType::UINT16; r.u = v; return r; }
GgufValue gguf_scalar(int16_t v) { GgufValue r; r.type = GgufType::INT16; r.i = v; return r; }
GgufValue gguf_scalar(uint32_t v) { GgufValue r; r.type = GgufType::UINT32; r.u = v; return r; }
GgufValue gguf_scalar(int32_t v) { GgufValue r; r.type = GgufType::INT32; r.i = v; return r; }
GgufValue gguf_scalar(uint64_t v) { GgufValue r; r.type = GgufType::UINT64; r.u = v; return r; }
GgufValue gguf_scalar(int64_t v) { GgufValue r; r.type = GgufType::INT64; r.i = v; return r; }
GgufValue gguf_scalar(float v) { GgufValue r; r.type = GgufType::FLOAT32; r.f = v; return r; }
GgufValue gguf_scalar(double v) { GgufValue r; r.type = GgufType::FLOAT64; r.f = v; return r; }
GgufValue gguf_scalar(bool v) { GgufValue r; r.type = GgufType::BOOL; r.u = v ? 1 : 0; return r; }
GgufValue gguf_scalar(std::string v) { GgufValue r; r.type = GgufType::STRING; r.s = std::move(v); return r; }

GgufValue gguf_array(GgufType elem_type, std::vector<GgufValue> elems) {
  GgufValue r;
  r.type = GgufType::ARRAY;
  r.elem_type = elem_type;
  r.arr = std::move(elems);
  return r;
}

// ---- metadata --------------------------------------------------------------

void GgufWriter::set(std::string_view key, GgufValue value) {
  std::string k(key);
  if (k.empty() || k.size() > kMaxKeyLen) throw InputError("GGUF metadata key has invalid length " + std::to_string(k.size()));
  check_value(value, 0, k);
  if (k == "general.alignment") {
    if (!value.is_integer() || value.as_double() <= 0) throw InputError("GGUF metadata general.alignment must be a positive integer");
    uint64_t a = value.type == GgufType::UINT64 ? value.u : uint64_t(value.as_int());
    if (a > (1u << 20) || (a & (a - 1)) != 0 || a % 8 != 0)
      throw InputError("GGUF metadata general.alignment " + std::to_string(a) + " is not a power of two multiple of 8");
  }
  auto it = kv_index_.find(k);
  if (it != kv_index_.end()) {
    kv_[it->second].second = std::move(value);
    return;
  }
  kv_index_.emplace(k, kv_.size());
  kv_.emplace_back(std::move(k), std::move(value));
}

void GgufWriter::set_alignment(uint32_t alignment) { set_uint32("general.alignment", alignment); }

void GgufWriter::copy_metadata(const GgufFile& src) {
  for (const auto& [key, value] : src.metadata()) set(key, value);
}

bool GgufWriter::remove(std::string_view key) {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return false;
  kv_.erase(kv_.begin() + std::ptrdiff_t(it->second));
  kv_index_.clear();
  for (size_t k = 0; k < kv_.size(); ++k) kv_index_.emplace(kv_[k].first, k);
  return true;
}

const GgufValue* GgufWriter::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

uint32_t GgufWriter::alignment() const {
  const GgufValue* a = find("general.alignment");
  return a ? uint32_t(a->type == GgufType::UINT64 ? a->u : uint64_t(a->as_int())) : kDefaultAlignment;
}

// ---- tensors ---------------------------------------------------------------

uint64_t GgufWriter::tensor_nbytes(TypeId type, const std::vector<int64_t>& ne) {
  const TypeInfo* info = find_type(type);
  if (!info) throw InputError("unknown tensor type " + std::to_string(uint32_t(type)));
  if (ne.size() > 4) throw InputError(std::to_string(ne.size()) + " dimensions (at most 4)");
  int64_t nel = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] <= 0 || ne[d] > kMaxDim) throw InputError("dimension " + std::to_string(d) + " is " + std::to_string(ne[d]));
    if (nel > kMaxElements / ne[d]) throw InputError("element count overflows");
    nel *= ne[d];
  }
  const int64_t row = ne.empty() ? 1 : ne[0];
  if (row % info->block_size != 0)
    throw InputError("row length " + std::to_string(row) + " is not a multiple of the " + info->name +
                     " block size " + std::to_string(info->block_size));
  return uint64_t(nel / info->block_size) * info->type_size + uint64_t(nel / row) * info->row_header;
}

void GgufWriter::add(Tensor t) {
  const std::string where = "GGUF tensor " + t.name + ": ";
  if (t.name.empty() || t.name.size() > kMaxTensorNameLen)
    throw InputError("GGUF tensor name '" + t.name + "' must be 1 to " + std::to_string(kMaxTensorNameLen) + " bytes");
  if (tensor_index_.count(t.name)) throw InputError("duplicate GGUF tensor name " + t.name);
  uint64_t nbytes;
  try {
    nbytes = tensor_nbytes(t.type, t.ne);
  } catch (const InputError& e) {
    throw InputError(where + e.what());
  }
  if (!t.fill && t.nbytes != nbytes)
    throw InputError(where + std::to_string(t.nbytes) + " bytes given, shape and type need " + std::to_string(nbytes));
  if (!t.fill && t.data == nullptr && nbytes > 0) throw InputError(where + "no data");
  t.nbytes = nbytes;
  tensor_index_.emplace(t.name, tensors_.size());
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(std::string name, TypeId type, const std::vector<int64_t>& ne, const void* data,
                            size_t nbytes) {
  add(Tensor{std::move(name), type, ne, nbytes, data, nullptr});
}

void GgufWriter::add_tensor(std::string name, TypeId type, const std::vector<int64_t>& ne, GgufTensorDataFn fill) {
  if (!fill) throw InputError("GGUF tensor " + name + ": empty data callback");
  add(Tensor{std::move(name), type, ne, 0, nullptr, std::move(fill)});
}

void GgufWriter::add_tensor_from(const GgufFile& src, const GgufTensorInfo& t) {
  std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
  add_tensor(t.name, t.type, ne, src.tensor_data(t), size_t(t.nbytes));
}

// ---- writing ---------------------------------------------------------------

void GgufWriter::write(const std::string& path) const {
  FileOut out(path);
  serialize(out);
  out.commit();
}

void GgufWriter::write_to(const GgufWriteFn& sink, const std::string& name) const {
  SinkOut out(sink, name);
  serialize(out);
  out.flush();
}

void GgufWriter::serialize(GgufOut& out) const {
  const uint64_t align = alignment();
  out.put_le<uint32_t>(kMagic);
  out.put_le<uint32_t>(kVersion);
  out.put_le<uint64_t>(tensors_.size());
  out.put_le<uint64_t>(kv_.size());
  for (const auto& [key, value] : kv_) {
    out.put_string(key);
    out.put_le<uint32_t>(uint32_t(value.type));
    put_value(out, value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    out.put_string(t.name);
    out.put_le<uint32_t>(uint32_t(t.ne.size()));
    for (int64_t n : t.ne) out.put_le<uint64_t>(uint64_t(n));
    out.put_le<uint32_t>(uint32_t(t.type));
    out.put_le<uint64_t>(offset);
    offset += align_up(t.nbytes, align);
  }
  out.pad_to(align);

  for (const Tensor& t : tensors_) {
    if (!t.fill) {
      out.put(t.data, size_t(t.nbytes));
    } else {
      uint64_t written = 0;
      bool overflow = false;
      t.fill([&](const void* data, size_t n) {
        if (n > t.nbytes - written) {
          overflow = true;
          out.fail("tensor " + t.name + ": data callback wrote more than " + std::to_string(t.nbytes) + " bytes");
        }
        out.put(data, n);
        written += n;
      });
      if (overflow || written != t.nbytes)
        out.fail("tensor " + t.name + ": data callback wrote " + std::to_string(written) + " of " +
                 std::to_string(t.nbytes) + " bytes");
    }
    out.pad_to(align);
  }
}

}  // namespace qinfer
