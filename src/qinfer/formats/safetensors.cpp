#include "qinfer/formats/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"

namespace qinfer {

namespace {

// The safetensors library refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeader = 100'000'000;
constexpr size_t kMaxDims = 8;

bool parse_dtype(const std::string& s, StDtype* out) {
  if (s == "F32") *out = StDtype::F32;
  else if (s == "F16") *out = StDtype::F16;
  else if (s == "BF16") *out = StDtype::BF16;
  else if (s == "I32") *out = StDtype::I32;
  else if (s == "I8") *out = StDtype::I8;
  else if (s == "U8") *out = StDtype::U8;
  else return false;
  return true;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

const char* st_dtype_name(StDtype t) {
  switch (t) {
    case StDtype::F32: return "F32";
    case StDtype::F16: return "F16";
    case StDtype::BF16: return "BF16";
    case StDtype::I32: return "I32";
    case StDtype::I8: return "I8";
    case StDtype::U8: return "U8";
  }
  return "?";
}

size_t st_dtype_size(StDtype t) {
  switch (t) {
    case StDtype::F32: case StDtype::I32: return 4;
    case StDtype::F16: case StDtype::BF16: return 2;
    case StDtype::I8: case StDtype::U8: return 1;
  }
  return 1;
}

bool st_dtype_is_float(StDtype t) { return t == StDtype::F32 || t == StDtype::F16 || t == StDtype::BF16; }

int64_t StTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string StTensor::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->map_ = std::make_unique<MappedFile>(path);
  f->parse_header(f->map_->data(), f->map_->size());
  return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size, const std::string& name) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = name;
  f->parse_header(data, size);
  return f;
}

const StTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const StTensor& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

void SafetensorsFile::parse_header(const uint8_t* data, size_t size) {
  const std::string& p = path_;
  if (size < 8) throw InputError(p + ": too small for a safetensors file (" + std::to_string(size) + " bytes)");
  const uint64_t n = read_u64_le(data);
  if (n > kMaxHeader || n > size - 8)
    throw InputError(p + ": header length " + std::to_string(n) + " exceeds the file size " + std::to_string(size));
  const uint8_t* body = data + 8 + n;
  const uint64_t body_size = size - 8 - n;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(p + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw InputError(p + ": header is not a JSON object");

  struct Span { uint64_t begin, end; size_t idx; };
  std::vector<Span> spans;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = p + ": tensor " + name;
    if (!v.is_object()) throw InputError(where + ": entry is not an object");
    const auto dt = v.find("dtype");
    const auto sh = v.find("shape");
    const auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) throw InputError(where + ": missing string field dtype");
    if (sh == v.end() || !sh->is_array()) throw InputError(where + ": missing array field shape");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw InputError(where + ": data_offsets must be two non-negative integers");
    StTensor t;
    t.name = name;
    if (!parse_dtype(dt->get<std::string>(), &t.dtype))
      throw InputError(where + ": unsupported dtype '" + dt->get<std::string>() + "' (supported: F32, F16, BF16, I32, I8, U8)");
    if (sh->size() > kMaxDims) throw InputError(where + ": more than " + std::to_string(kMaxDims) + " dimensions");
    uint64_t count = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) throw InputError(where + ": shape must hold non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > 0 && count > (uint64_t(1) << 62) / dim) throw InputError(where + ": shape is too large");
      count *= dim;
      t.shape.push_back(int64_t(dim));
    }
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end || end > body_size)
      throw InputError(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       "] outside the data section of " + std::to_string(body_size) + " bytes");
    const uint64_t want = count * st_dtype_size(t.dtype);
    if (end - begin != want)
      throw InputError(where + ": data_offsets span " + std::to_string(end - begin) + " bytes, but " +
                       st_dtype_name(t.dtype) + " " + t.shape_string() + " needs " + std::to_string(want));
    t.data = body + begin;
    t.nbytes = want;
    spans.push_back({begin, end, tensors_.size()});
    tensors_.push_back(std::move(t));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end && spans[i].end > spans[i].begin)
      throw InputError(p + ": tensors " + tensors_[spans[i - 1].idx].name + " and " + tensors_[spans[i].idx].name +
                       " overlap");
  std::sort(tensors_.begin(), tensors_.end(), [](const StTensor& a, const StTensor& b) { return a.name < b.name; });
}

void write_safetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  uint64_t off = 0;
  for (const auto& t : tensors) {
    uint64_t count = 1;
    for (int64_t d : t.shape) count *= uint64_t(d);
    if (t.data.size() != count * st_dtype_size(t.dtype))
      throw Error("write_safetensors: tensor " + t.name + " has " + std::to_string(t.data.size()) +
                  " bytes, shape needs " + std::to_string(count * st_dtype_size(t.dtype)));
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
    off += t.data.size();
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  AtomicFile f(path);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  f.write(len, 8);
  f.write(h);
  for (const auto& t : tensors) f.write(t.data.data(), t.data.size());
  f.commit();
}

}  // namespace qinfer
