#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "qinfer/core/error.h"
#include "qinfer/core/fp16.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
#include "in_child.h"
#include "test_util.h"

using namespace qinfer;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Names of the files in `dir` (to check no temporary file is left behind).
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

template <typename F>
void expect_input_error(F&& fn, const std::string& prefix, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected " << prefix << " ... " << needle;
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind(prefix, 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

void expect_same(const GgufValue& a, const GgufValue& b, const std::string& key) {
  ASSERT_EQ(a.type, b.type) << key;
  switch (a.type) {
    case GgufType::ARRAY:
      ASSERT_EQ(a.elem_type, b.elem_type) << key;
      ASSERT_EQ(a.arr.size(), b.arr.size()) << key;
      for (size_t k = 0; k < a.arr.size(); ++k) expect_same(a.arr[k], b.arr[k], key + "[" + std::to_string(k) + "]");
      break;
    case GgufType::STRING: EXPECT_EQ(a.s, b.s) << key; break;
    case GgufType::FLOAT32: case GgufType::FLOAT64:
      if (std::isnan(a.f)) EXPECT_TRUE(std::isnan(b.f)) << key;
      else EXPECT_EQ(a.f, b.f) << key;
      break;
    default:
      EXPECT_EQ(a.u, b.u) << key;
      EXPECT_EQ(a.i, b.i) << key;
  }
}

}  // namespace

TEST(GgufWriter, RoundTripsEveryValueType) {
  auto dir = test::scratch_dir();
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_uint8("t.u8", 255);
  w.set_int8("t.i8", -128);
  w.set_uint16("t.u16", 65535);
  w.set_int16("t.i16", -32768);
  w.set_uint32("t.u32", 0xffffffffu);
  w.set_int32("t.i32", std::numeric_limits<int32_t>::min());
  w.set_uint64("t.u64", std::numeric_limits<uint64_t>::max());
  w.set_int64("t.i64", std::numeric_limits<int64_t>::min());
  w.set_float32("t.f32", 1.5e-7f);
  w.set_float64("t.f64", -1e300);
  w.set_float32("t.f32nan", std::numeric_limits<float>::quiet_NaN());
  w.set_float32("t.f32inf", -std::numeric_limits<float>::infinity());
  w.set_bool("t.true", true);
  w.set_bool("t.false", false);
  static const char kStr[] = "utf-8 \xc3\xa9 and a \0 NUL";
  w.set_string("t.str", std::string(kStr, sizeof(kStr) - 1));
  w.set_string("t.empty", "");
  w.set_array<uint8_t>("a.u8", {0, 1, 255});
  w.set_array<int8_t>("a.i8", {-128, 0, 127});
  w.set_array<uint16_t>("a.u16", {0, 65535});
  w.set_array<int16_t>("a.i16", {-32768, 32767});
  w.set_array<uint32_t>("a.u32", {1, 2, 0xffffffffu});
  w.set_array<int32_t>("a.i32", {-1, 2, -3});
  w.set_array<uint64_t>("a.u64", {std::numeric_limits<uint64_t>::max()});
  w.set_array<int64_t>("a.i64", {std::numeric_limits<int64_t>::min(), 7});
  w.set_array<float>("a.f32", {0.25f, -0.0f, 3e38f});
  w.set_array<double>("a.f64", {1e-300, 2.0});
  w.set_array<bool>("a.bool", {true, false, true});
  w.set_array<std::string>("a.str", {"", "a", "hello world", std::string(1000, 'x')});
  w.set_array<float>("a.empty", {});
  // Nested: array of arrays of strings, and three levels of uint8.
  w.set("a.nested", gguf_array(GgufType::ARRAY, {gguf_array(GgufType::STRING, {gguf_scalar(std::string("x"))}),
                                                 gguf_array(GgufType::STRING, {})}));
  w.set("a.deep", gguf_array(GgufType::ARRAY,
                             {gguf_array(GgufType::ARRAY, {gguf_array(GgufType::UINT8, {gguf_scalar(uint8_t(9))})})}));
  // Replacing a key keeps its position.
  w.set_uint8("t.u8", 254);
  EXPECT_EQ(w.metadata()[1].first, "t.u8");
  EXPECT_TRUE(w.remove("t.empty"));
  EXPECT_FALSE(w.remove("t.empty"));
  w.set_string("t.empty", "");

  const auto path = (dir / "values.gguf").string();
  w.write(path);
  EXPECT_EQ(listing(dir), std::vector<std::string>{"values.gguf"});

  auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->tensors().size(), 0u);
  ASSERT_EQ(f->metadata().size(), w.metadata().size());
  for (size_t k = 0; k < w.metadata().size(); ++k) {
    EXPECT_EQ(f->metadata()[k].first, w.metadata()[k].first);
    expect_same(f->metadata()[k].second, w.metadata()[k].second, w.metadata()[k].first);
  }
  EXPECT_EQ(f->get_int("t.u8", 0), 254);
  EXPECT_EQ(f->find("t.str")->s, std::string(kStr, sizeof(kStr) - 1));
  EXPECT_EQ(f->find("a.str")->as_string_array()[3], std::string(1000, 'x'));
}

TEST(GgufWriter, RoundTripsTensorsWithAlignment) {
  auto dir = test::scratch_dir();
  for (uint32_t align : {32u, 8u, 64u, 4096u}) {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    if (align != 32) w.set_alignment(align);
    std::vector<float> a(7 * 3);
    for (size_t k = 0; k < a.size(); ++k) a[k] = float(k) * 0.5f - 3.f;
    std::vector<uint16_t> h(5);
    for (size_t k = 0; k < h.size(); ++k) h[k] = f32_to_fp16(float(k) + 0.25f);
    std::vector<float> big(1000, 0.f);
    for (size_t k = 0; k < big.size(); ++k) big[k] = std::sin(float(k));
    w.add_tensor("a.weight", TypeId::F32, {7, 3}, a.data(), a.size() * 4);
    w.add_tensor("h.weight", TypeId::F16, {5}, h.data(), h.size() * 2);
    // Streamed in uneven pieces.
    w.add_tensor("big.weight", TypeId::F32, {10, 10, 5, 2}, [&](const GgufWriteFn& put) {
      const auto* p = reinterpret_cast<const uint8_t*>(big.data());
      size_t done = 0, step = 1;
      while (done < big.size() * 4) {
        size_t n = std::min(step, big.size() * 4 - done);
        put(p + done, n);
        done += n;
        step = step * 3 + 1;
      }
    });
    w.add_tensor("one", TypeId::F32, {1}, a.data(), 4);
    const auto path = (dir / ("t" + std::to_string(align) + ".gguf")).string();
    w.write(path);

    // write_to streams the same bytes.
    std::vector<uint8_t> mem;
    w.write_to([&](const void* p, size_t n) {
      mem.insert(mem.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    });
    EXPECT_EQ(mem, read_bytes(path));

    auto f = GgufFile::open(path);
    EXPECT_EQ(f->alignment(), align);
    EXPECT_EQ(f->data_offset() % align, 0u);
    ASSERT_EQ(f->tensors().size(), 4u);
    const auto& ta = f->tensors()[0];
    EXPECT_EQ(ta.name, "a.weight");
    EXPECT_EQ(ta.n_dims, 2u);
    EXPECT_EQ(ta.ne[0], 7);
    EXPECT_EQ(ta.ne[1], 3);
    EXPECT_EQ(ta.type, TypeId::F32);
    EXPECT_EQ(std::memcmp(f->tensor_data(ta), a.data(), a.size() * 4), 0);
    const auto& th = f->tensors()[1];
    EXPECT_EQ(th.type, TypeId::F16);
    EXPECT_EQ(th.n_dims, 1u);
    EXPECT_EQ(th.offset % align, 0u);
    EXPECT_EQ(std::memcmp(f->tensor_data(th), h.data(), h.size() * 2), 0);
    const auto& tb = f->tensors()[2];
    EXPECT_EQ(tb.n_dims, 4u);
    EXPECT_EQ(tb.shape_string(), "[10, 10, 5, 2]");
    EXPECT_EQ(tb.offset % align, 0u);
    EXPECT_EQ(std::memcmp(f->tensor_data(tb), big.data(), big.size() * 4), 0);
    EXPECT_EQ(f->tensors()[3].nbytes, 4u);
    // Every tensor, the last one included, is padded to the alignment.
    EXPECT_EQ(f->file_size() % align, 0u);
  }
}

TEST(GgufWriter, RewritesStories260KByteIdentical) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  const auto src_path = test::data_path("models/stories260K/stories260K.gguf");
  auto src = GgufFile::open(src_path);
  GgufWriter w;
  w.copy_metadata(*src);
  for (const auto& t : src->tensors()) w.add_tensor_from(*src, t);
  auto dir = test::scratch_dir();
  const auto out = dir / "copy.gguf";
  w.write(out.string());
  auto a = read_bytes(src_path), b = read_bytes(out);
  ASSERT_EQ(a.size(), b.size());
  size_t first = 0;
  while (first < a.size() && a[first] == b[first]) ++first;
  EXPECT_EQ(first, a.size()) << "first difference at byte " << first;
}

TEST(GgufWriter, RewritesWithChangedTensorsAndMetadata) {
  QINFER_REQUIRE_DATA("models/stories260K/stories260K.gguf");
  auto src = GgufFile::open(test::data_path("models/stories260K/stories260K.gguf"));
  GgufWriter w;
  w.copy_metadata(*src);
  w.set_uint32("general.file_type", 1);
  w.set_string("general.name", "changed");
  for (const auto& t : src->tensors()) {
    if (t.type == TypeId::F32 && t.n_dims == 2) {
      // Stream an F16 version of every matrix.
      const float* x = reinterpret_cast<const float*>(src->tensor_data(t));
      w.add_tensor(t.name, TypeId::F16, {t.ne[0], t.ne[1]}, [x, n = t.n_elements()](const GgufWriteFn& put) {
        for (int64_t k = 0; k < n; ++k) {
          uint16_t h = f32_to_fp16(x[k]);
          put(&h, 2);
        }
      });
    } else {
      w.add_tensor_from(*src, t);
    }
  }
  auto dir = test::scratch_dir();
  w.write((dir / "f16.gguf").string());
  auto f = GgufFile::open((dir / "f16.gguf").string());
  EXPECT_EQ(f->get_string("general.name"), "changed");
  EXPECT_EQ(f->get_int("general.file_type", -1), 1);
  EXPECT_EQ(f->metadata().size(), src->metadata().size() + (src->find("general.name") ? 0 : 1) +
                                       (src->find("general.file_type") ? 0 : 1));
  ASSERT_EQ(f->tensors().size(), src->tensors().size());
  const auto* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, TypeId::F16);
  const float* x = reinterpret_cast<const float*>(src->tensor_data(*src->find_tensor("token_embd.weight")));
  const uint16_t* h = reinterpret_cast<const uint16_t*>(f->tensor_data(*emb));
  for (int64_t k = 0; k < emb->n_elements(); ++k) ASSERT_EQ(h[k], f32_to_fp16(x[k])) << k;
}

TEST(GgufWriter, RejectsInvalidInput) {
  GgufWriter w;
  float x[4] = {};
  expect_input_error([&] { w.set_uint8("", 1); }, "GGUF metadata key", "invalid length");
  expect_input_error([&] { w.set_alignment(12); }, "GGUF metadata general.alignment", "power of two");
  expect_input_error([&] { w.set_alignment(0); }, "GGUF metadata general.alignment", "positive");
  expect_input_error([&] { w.set("k", gguf_array(GgufType::UINT8, {gguf_scalar(uint16_t(1))})); }, "GGUF metadata k",
                     "array of uint8 holds a uint16");
  GgufValue bad_u8 = gguf_scalar(uint8_t(1));
  bad_u8.u = 256;
  expect_input_error([&] { w.set("k", bad_u8); }, "GGUF metadata k", "out of range");
  GgufValue deep = gguf_array(GgufType::UINT8, {});
  for (int k = 0; k < 4; ++k) deep = gguf_array(GgufType::ARRAY, {deep});
  expect_input_error([&] { w.set("k", deep); }, "GGUF metadata k", "nested too deeply");
  EXPECT_EQ(w.metadata().size(), 0u);

  w.add_tensor("x", TypeId::F32, {4}, x, sizeof(x));
  expect_input_error([&] { w.add_tensor("x", TypeId::F32, {4}, x, sizeof(x)); }, "duplicate GGUF tensor name x", "");
  expect_input_error([&] { w.add_tensor("", TypeId::F32, {4}, x, sizeof(x)); }, "GGUF tensor name", "1 to 63");
  expect_input_error([&] { w.add_tensor(std::string(64, 'n'), TypeId::F32, {4}, x, sizeof(x)); }, "GGUF tensor name",
                     "1 to 63");
  expect_input_error([&] { w.add_tensor("y", TypeId::F32, {4}, x, 12); }, "GGUF tensor y: ", "12 bytes given");
  expect_input_error([&] { w.add_tensor("y", TypeId::F32, {1, 1, 1, 1, 1}, x, 4); }, "GGUF tensor y: ",
                     "5 dimensions");
  expect_input_error([&] { w.add_tensor("y", TypeId::F32, {0}, x, 0); }, "GGUF tensor y: ", "dimension 0 is 0");
  expect_input_error([&] { w.add_tensor("y", TypeId(4), {4}, x, 16); }, "GGUF tensor y: ", "unknown tensor type 4");
  expect_input_error([&] { w.add_tensor("y", TypeId::F32, {1 << 30, 1 << 30, 1 << 30}, x, 4); }, "GGUF tensor y: ",
                     "overflows");
  EXPECT_EQ(w.tensor_count(), 1u);
}

TEST(GgufWriter, UnwritablePathGivesClearErrorAndNoFile) {
  auto dir = test::scratch_dir();
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  const auto missing = (dir / "no-such-dir" / "m.gguf").string();
  expect_input_error([&] { w.write(missing); }, missing + ": cannot create", "No such file or directory");
  EXPECT_FALSE(fs::exists(dir / "no-such-dir"));

  if (::geteuid() != 0) {  // root ignores permissions
    fs::create_directory(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    const auto ro = (dir / "ro" / "m.gguf").string();
    expect_input_error([&] { w.write(ro); }, ro + ": cannot create", "Permission denied");
    fs::permissions(dir / "ro", fs::perms::owner_all);
    EXPECT_TRUE(listing(dir / "ro").empty());
  }

  // The final name is a directory: everything is written, the rename fails,
  // the temporary file is removed.
  fs::create_directory(dir / "isdir.gguf");
  const auto isdir = (dir / "isdir.gguf").string();
  expect_input_error([&] { w.write(isdir); }, isdir + ": cannot rename", "");
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"isdir.gguf"}));
}

TEST(GgufWriter, CallbackErrorsRemoveTheTemporaryFile) {
  auto dir = test::scratch_dir();
  const auto path = (dir / "m.gguf").string();
  std::vector<float> x(64, 1.f);
  {
    GgufWriter w;
    w.add_tensor("short", TypeId::F32, {64}, [&](const GgufWriteFn& put) { put(x.data(), 100); });
    expect_input_error([&] { w.write(path); }, path + ": tensor short: data callback wrote 100 of 256 bytes", "");
  }
  {
    GgufWriter w;
    w.add_tensor("long", TypeId::F32, {4}, [&](const GgufWriteFn& put) { put(x.data(), 20); });
    expect_input_error([&] { w.write(path); }, path + ": tensor long: data callback wrote more than 16 bytes", "");
  }
  {
    GgufWriter w;
    w.add_tensor("throws", TypeId::F32, {4}, [&](const GgufWriteFn& put) {
      put(x.data(), 8);
      throw std::runtime_error("source went away");
    });
    EXPECT_THROW(w.write(path), std::runtime_error);
  }
  EXPECT_TRUE(listing(dir).empty());
  {
    GgufWriter w;
    w.add_tensor("short", TypeId::F32, {64}, [&](const GgufWriteFn& put) { put(x.data(), 8); });
    expect_input_error([&] { w.write_to([](const void*, size_t) {}, "mem"); },
                       "mem: tensor short: data callback wrote 8 of 256 bytes", "");
  }
}

// Disk full, simulated with RLIMIT_FSIZE in a child (SIGXFSZ ignored, so
// write() fails with EFBIG): the error names the file, nothing remains under
// the final name nor as a temporary file. A previous file of the same name
// is left untouched.
TEST(GgufWriter, ShortWriteLeavesNoPartialFile) {
  auto dir = test::scratch_dir();
  const auto path = (dir / "big.gguf").string();
  {
    std::ofstream old(path, std::ios::binary);
    old << "previous contents";
  }
  for (rlim_t limit : {rlim_t(0), rlim_t(100), rlim_t(4096), rlim_t(3 << 20)}) {
    const std::string msg = test::in_child(test::file_size_limit(limit), [&] {
      return test::input_error_of([&] {
        GgufWriter w;
        w.set_string("general.architecture", "llama");
        std::vector<uint8_t> chunk(1 << 16, 0x5a);
        w.add_tensor("huge", TypeId::F32, {int64_t(1) << 20, 2}, [&](const GgufWriteFn& put) {
          for (size_t done = 0; done < (size_t(8) << 20); done += chunk.size()) put(chunk.data(), chunk.size());
        });
        w.write(path);
      });
    });
    EXPECT_EQ(msg.rfind(path + ": cannot write " + path + ".tmp.", 0), 0u) << msg;
    EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
    EXPECT_EQ(listing(dir), std::vector<std::string>{"big.gguf"}) << "limit " << limit;
    auto old = read_bytes(path);
    EXPECT_EQ(std::string(old.begin(), old.end()), "previous contents");
  }
}
