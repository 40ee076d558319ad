#include "qinfer/quantize/imatrix_file.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

#include "qinfer/core/atomic_file.h"
#include "qinfer/core/error.h"

namespace qinfer {

namespace {

// Bounds-checked little cursor: every read names what was being read.
class Cursor {
 public:
  Cursor(const unsigned char* p, size_t n, const std::string& name) : p_(p), n_(n), name_(name) {}
  bool at_end() const { return pos_ == n_; }
  int32_t i32(const char* what) {
    int32_t v;
    std::memcpy(&v, take(4, what), 4);
    return v;
  }
  const unsigned char* take(size_t k, const char* what) {
    if (k > n_ - pos_)
      throw InputError(name_ + ": truncated imatrix file while reading " + what + " at byte " + std::to_string(pos_));
    const unsigned char* r = p_ + pos_;
    pos_ += k;
    return r;
  }
  [[noreturn]] void fail(const std::string& msg) const { throw InputError(name_ + ": " + msg); }

 private:
  const unsigned char* p_;
  size_t n_, pos_ = 0;
  const std::string& name_;
};

}  // namespace

ImatrixFile parse_imatrix(const unsigned char* data, size_t size, const std::string& name) {
  Cursor c(data, size, name);
  ImatrixFile out;
  const int32_t n_entries = c.i32("the entry count");
  if (n_entries < 1) c.fail("imatrix file has no entries (n_entries = " + std::to_string(n_entries) + ")");
  for (int32_t e = 0; e < n_entries; ++e) {
    const std::string ctx = "entry " + std::to_string(e);
    const int32_t len = c.i32("an entry name length");
    if (len < 0) c.fail(ctx + ": negative name length " + std::to_string(len));
    const unsigned char* s = c.take(size_t(len), "an entry name");
    std::string tensor(reinterpret_cast<const char*>(s), size_t(len));
    tensor = tensor.c_str();  // llama.cpp reads the name as a C string
    const int32_t ncall = c.i32("ncall");
    const int32_t nval = c.i32("nval");
    if (nval < 1) c.fail(ctx + " (" + tensor + "): nval " + std::to_string(nval) + " is not positive");
    const unsigned char* raw = c.take(size_t(nval) * 4, "entry values");
    std::vector<float>& v = out.entries[tensor];  // a repeated name replaces the earlier one, as in llama.cpp
    v.resize(size_t(nval));
    std::memcpy(v.data(), raw, size_t(nval) * 4);
    for (int32_t i = 0; i < nval; ++i) {
      if (!std::isfinite(v[size_t(i)]))
        c.fail(ctx + " (" + tensor + "): value " + std::to_string(i) + " is not finite");
      if (ncall > 0) v[size_t(i)] /= float(ncall);
    }
  }
  if (!c.at_end()) {
    out.last_call = c.i32("last_call");
    const int32_t dlen = c.i32("the dataset name length");
    if (dlen < 0) c.fail("negative dataset name length " + std::to_string(dlen));
    const unsigned char* s = c.take(size_t(dlen), "the dataset name");
    out.dataset.assign(reinterpret_cast<const char*>(s), size_t(dlen));
  }
  return out;
}

ImatrixFile read_imatrix_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open imatrix file");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(path + ": error reading imatrix file");
  return parse_imatrix(bytes.data(), bytes.size(), path);
}

void write_imatrix_file(const std::string& path, const std::vector<ImatrixRecord>& records, int32_t last_call,
                        const std::string& dataset) {
  AtomicFile out(path);
  auto put_i32 = [&](int32_t v) { out.write(&v, sizeof v); };
  put_i32(int32_t(records.size()));
  std::vector<float> stored;
  for (const ImatrixRecord& r : records) {
    put_i32(int32_t(r.name.size()));
    out.write(r.name);
    put_i32(r.ncall);
    put_i32(int32_t(r.importance.size()));
    stored.resize(r.importance.size());
    for (size_t j = 0; j < stored.size(); ++j) stored[j] = r.importance[j] * float(r.ncall);
    out.write(stored.data(), stored.size() * sizeof(float));
  }
  put_i32(last_call);
  put_i32(int32_t(dataset.size()));
  out.write(dataset);
  out.commit();
}

}  // namespace qinfer
