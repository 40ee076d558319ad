// libFuzzer target for the GGUF reader. Any input must either parse or throw
// qinfer::Error; a parsed file must be self-consistent (every tensor's bytes
// inside the input, which ASan checks by touching them) and must survive a
// round trip through GgufWriter with the same metadata and tensors.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"

using namespace qinfer;

namespace {

[[noreturn]] void die(const char* what) {
  __builtin_printf("fuzz_gguf: %s\n", what);
  std::abort();
}

bool same_value(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case GgufType::ARRAY:
      if (a.elem_type != b.elem_type || a.arr.size() != b.arr.size()) return false;
      for (size_t k = 0; k < a.arr.size(); ++k)
        if (!same_value(a.arr[k], b.arr[k])) return false;
      return true;
    case GgufType::STRING: return a.s == b.s;
    case GgufType::FLOAT32: case GgufType::FLOAT64:
      return (std::isnan(a.f) && std::isnan(b.f)) || a.f == b.f;
    default: return a.u == b.u && a.i == b.i;
  }
}

void exercise(const GgufFile& f) {
  for (const auto& [key, v] : f.metadata()) {
    (void)v.to_display();
    try { (void)f.get_int(key, 0); } catch (const Error&) {}
    try { (void)f.get_float(key, 0); } catch (const Error&) {}
    try { (void)f.get_string(key); } catch (const Error&) {}
    try { (void)v.as_float_array(); } catch (const Error&) {}
    try { (void)v.as_string_array(); } catch (const Error&) {}
    if (f.find(key) != &v) die("find() does not return the key's value");
  }
  volatile uint8_t sink = 0;
  for (const auto& t : f.tensors()) {
    if (f.find_tensor(t.name) != &t) die("find_tensor() does not return the tensor");
    if (t.offset % f.alignment() != 0) die("misaligned tensor accepted");
    if (t.n_elements() <= 0) die("tensor without elements accepted");
    (void)t.shape_string();
    if (t.nbytes > 0) {
      const uint8_t* p = f.tensor_data(t);
      sink = sink + p[0] + p[t.nbytes - 1];  // out of the input: ASan reports it
    }
  }
}

void round_trip(const GgufFile& f) {
  GgufWriter w;
  try {
    w.copy_metadata(f);
    for (const auto& t : f.tensors()) w.add_tensor_from(f, t);
  } catch (const InputError&) {
    return;  // the writer is stricter than the reader (e.g. tensor names <= 63 bytes)
  }
  std::vector<uint8_t> out;
  w.write_to([&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  });
  std::unique_ptr<GgufFile> g;
  try {
    g = GgufFile::parse(out.data(), out.size(), "rewritten");
  } catch (const Error& e) {
    __builtin_printf("%s\n", e.what());
    die("the writer's output does not parse");
  }
  if (g->metadata().size() != f.metadata().size()) die("metadata count changed");
  for (size_t k = 0; k < f.metadata().size(); ++k)
    if (g->metadata()[k].first != f.metadata()[k].first || !same_value(g->metadata()[k].second, f.metadata()[k].second))
      die("metadata changed");
  if (g->tensors().size() != f.tensors().size()) die("tensor count changed");
  for (size_t k = 0; k < f.tensors().size(); ++k) {
    const auto &a = f.tensors()[k], &b = g->tensors()[k];
    if (a.name != b.name || a.n_dims != b.n_dims || a.type != b.type || a.nbytes != b.nbytes ||
        std::memcmp(a.ne, b.ne, sizeof(a.ne)) != 0)
      die("tensor info changed");
    if (a.nbytes && std::memcmp(f.tensor_data(a), g->tensor_data(b), a.nbytes) != 0) die("tensor data changed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::parse(data, size, "fuzz");
  } catch (const InputError& e) {
    if (std::strncmp(e.what(), "fuzz: ", 6) != 0) die("InputError without the file name");
    return 0;
  } catch (const Error&) {
    die("qinfer::Error that is not an InputError");
  }
  exercise(*f);
  round_trip(*f);
  return 0;
}
