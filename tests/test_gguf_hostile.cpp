// Hostile GGUF files: every one must give InputError("<name>: <problem>"),
// never a crash, a hang or a huge allocation. Outside sanitizer builds each
// parse runs in a forked child under RLIMIT_AS; under ASan (which reserves
// terabytes of address space) the allocator's size cap does that job.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/formats/gguf_writer.h"
#include "in_child.h"
#include "sanitizer.h"
#include "test_util.h"

#ifdef QINFER_ASAN
// No allocation above 256 MiB: a hostile count that slips through becomes a
// failed test (bad_alloc) instead of a machine brought to its knees.
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=256:allocator_may_return_null=1"; }
#endif

using namespace qinfer;

namespace {

constexpr uint64_t kHuge = uint64_t(1) << 60;

// Little-endian GGUF bytes built by hand.
struct Bytes {
  std::vector<uint8_t> b;
  Bytes& raw(const void* p, size_t n) {
    b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    return *this;
  }
  Bytes& u8(uint8_t v) { return raw(&v, 1); }
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s.data(), s.size()); }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  }
  Bytes& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(uint32_t(GgufType::UINT32)).u32(v); }
  Bytes& kv_str(const std::string& key, const std::string& v) { return str(key).u32(uint32_t(GgufType::STRING)).str(v); }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(uint32_t(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  Bytes& pad(size_t align = 32) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

// "" when parsing throws InputError that starts with "<name>: " and contains
// `needle`; otherwise what happened instead.
std::string rejects(const std::vector<uint8_t>& bytes, const std::string& needle, const std::string& name = "evil.gguf") {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), name);
    return "parsed without error (expected '" + needle + "')";
  } catch (const InputError& e) {
    std::string msg = e.what();
    if (msg.rfind(name + ": ", 0) != 0) return "message does not start with the name: " + msg;
    if (msg.find(needle) == std::string::npos) return "message lacks '" + needle + "': " + msg;
    return "";
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
}

// Runs `fn` in a forked child with at most 1 GiB of address space (directly
// under ASan) and returns its result, or how the child died.
std::string limited(const std::function<std::string()>& fn) {
#ifdef QINFER_ASAN
  return fn();
#else
  return test::in_child(test::address_space_limit(rlim_t(1) << 30), fn);
#endif
}

#define EXPECT_REJECTS(bytes, needle) EXPECT_EQ(limited([&] { return rejects((bytes).b, needle); }), "")

// A small valid file: metadata of several types and three tensors, the last
// one a multiple of the alignment long so that the file has no tail padding
// (then every truncation cuts something the reader needs).
std::vector<uint8_t> small_valid_file(const std::filesystem::path& dir) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_uint32("llama.block_count", 1);
  w.set_float32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_array<std::string>("tokenizer.ggml.tokens", {"<unk>", "a", "bc"});
  w.set_array<float>("tokenizer.ggml.scores", {0.f, -1.f, -2.f});
  w.set("nested", gguf_array(GgufType::ARRAY, {gguf_array(GgufType::INT16, {gguf_scalar(int16_t(-2))})}));
  static const float data[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  w.add_tensor("a", TypeId::F32, {3}, data, 12);
  w.add_tensor("b", TypeId::F16, {2, 2}, data, 8);
  w.add_tensor("c", TypeId::F32, {8, 2}, data, 64);
  const auto path = (dir / "small.gguf").string();
  w.write(path);
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(GgufHostile, TruncatedAtEveryByte) {
  auto bytes = small_valid_file(test::scratch_dir());
  ASSERT_NO_THROW(GgufFile::parse(bytes.data(), bytes.size(), "small.gguf"));
  EXPECT_EQ(limited([&] {
              std::string failures;
              for (size_t n = 0; n < bytes.size(); ++n) {
                std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
                std::string r = rejects(cut, "");
                if (r.empty()) {
                  // The problem must be named: truncation, or a count/length the rest cannot hold.
                  try {
                    GgufFile::parse(cut.data(), cut.size(), "cut.gguf");
                  } catch (const InputError& e) {
                    std::string m = e.what();
                    if (m.find("truncated") == std::string::npos && m.find("past the end") == std::string::npos &&
                        m.find("too small") == std::string::npos && m.find("ends before") == std::string::npos &&
                        m.find("larger than the file") == std::string::npos)
                      r = "unclear message: " + m;
                  }
                }
                if (!r.empty()) failures += "at " + std::to_string(n) + ": " + r + "\n";
              }
              return failures;
            }),
            "");
}

TEST(GgufHostile, TruncatedFileOnDiskNamesThePath) {
  auto dir = test::scratch_dir();
  auto bytes = small_valid_file(dir);
  const auto path = (dir / "cut.gguf").string();
  for (size_t n : {size_t(0), size_t(3), size_t(20), bytes.size() - 1}) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(n));
    }
    try {
      GgufFile::open(path);
      ADD_FAILURE() << "no error at " << n;
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
  }
}

TEST(GgufHostile, BadMagicAndVersions) {
  Bytes magic;
  magic.u32(0x46554748).u32(3).u64(0).u64(0);
  EXPECT_REJECTS(magic, "bad magic");
  Bytes tiny;
  tiny.u8('G').u8('G');
  EXPECT_REJECTS(tiny, "too small");
  Bytes v1;
  v1.header(0, 0, 1);
  EXPECT_REJECTS(v1, "version 1");
  Bytes v0;
  v0.header(0, 0, 0);
  EXPECT_REJECTS(v0, "version 0");
  Bytes v4;
  v4.header(0, 0, 4);
  EXPECT_REJECTS(v4, "version 4");
  Bytes be;  // a big-endian v3 file: version bytes 00 00 00 03
  be.header(0, 0, 0x03000000u);
  EXPECT_REJECTS(be, "big-endian");
  Bytes v2;  // version 2 is accepted
  v2.header(0, 0, 2);
  EXPECT_NO_THROW(GgufFile::parse(v2.b.data(), v2.b.size(), "v2.gguf"));
}

TEST(GgufHostile, AbsurdCounts) {
  Bytes t;
  t.header(kHuge, 0).zeros(64);
  EXPECT_REJECTS(t, "tensor count 1152921504606846976");
  Bytes kv;
  kv.header(0, kHuge).zeros(64);
  EXPECT_REJECTS(kv, "metadata count 1152921504606846976");
  Bytes max;
  max.header(~uint64_t(0), ~uint64_t(0));
  EXPECT_REJECTS(max, "larger than the file");
  // A count that fits the file's size but not its contents.
  Bytes kv2;
  kv2.header(0, 3).kv_u32("a", 1).zeros(30);
  EXPECT_REJECTS(kv2, "");
}

TEST(GgufHostile, BadMetadataValues) {
  Bytes unknown;
  unknown.header(0, 1).str("k").u32(13).u32(0);
  EXPECT_REJECTS(unknown, "metadata k: unknown value type 13");
  Bytes unknown2;
  unknown2.header(0, 1).str("k").u32(0xffffffffu).u32(0);
  EXPECT_REJECTS(unknown2, "unknown value type 4294967295");
  Bytes elem;
  elem.header(0, 1).str("k").u32(uint32_t(GgufType::ARRAY)).u32(99).u64(1).u32(0);
  EXPECT_REJECTS(elem, "metadata k: unknown array element type 99");
  Bytes b;
  b.header(0, 1).str("k").u32(uint32_t(GgufType::BOOL)).u8(2);
  EXPECT_REJECTS(b, "bool value 2");
  Bytes empty_key;
  empty_key.header(0, 1).str("").u32(uint32_t(GgufType::UINT8)).u8(1);
  EXPECT_REJECTS(empty_key, "invalid length");
  Bytes dup;
  dup.header(0, 2).kv_u32("general.x", 1).kv_u32("general.x", 2);
  EXPECT_REJECTS(dup, "duplicate metadata key general.x");
}

TEST(GgufHostile, HugeArraysAndStrings) {
  for (uint32_t et : {uint32_t(GgufType::UINT8), uint32_t(GgufType::UINT64), uint32_t(GgufType::STRING),
                      uint32_t(GgufType::ARRAY), uint32_t(GgufType::BOOL)}) {
    Bytes a;
    a.header(0, 1).str("arr").u32(uint32_t(GgufType::ARRAY)).u32(et).u64(kHuge).zeros(100);
    EXPECT_REJECTS(a, "metadata arr: array of 1152921504606846976 elements runs past the end") << et;
    Bytes m;
    m.header(0, 1).str("arr").u32(uint32_t(GgufType::ARRAY)).u32(et).u64(~uint64_t(0));
    EXPECT_REJECTS(m, "runs past the end") << et;
  }
  // Array of arrays each claiming many elements: bounded by the file too.
  Bytes aa;
  aa.header(0, 1).str("arr").u32(uint32_t(GgufType::ARRAY)).u32(uint32_t(GgufType::ARRAY)).u64(2);
  aa.u32(uint32_t(GgufType::UINT32)).u64(kHuge);
  EXPECT_REJECTS(aa, "runs past the end");
  Bytes key;
  key.header(0, 1).u64(kHuge).raw("abc", 3).zeros(16);
  EXPECT_REJECTS(key, "metadata key length 1152921504606846976 runs past the end");
  Bytes key_max;
  key_max.header(0, 1).u64(~uint64_t(0)).zeros(16);
  EXPECT_REJECTS(key_max, "runs past the end");
  Bytes val;
  val.header(0, 1).str("k").u32(uint32_t(GgufType::STRING)).u64(1000).raw("short", 5);
  EXPECT_REJECTS(val, "string value length 1000 runs past the end");
  Bytes sarr;  // string array whose third string runs past the end
  sarr.header(0, 1).str("k").u32(uint32_t(GgufType::ARRAY)).u32(uint32_t(GgufType::STRING)).u64(3);
  sarr.str("a").str("b").u64(kHuge).zeros(8);
  EXPECT_REJECTS(sarr, "string value length 1152921504606846976 runs past the end");
  Bytes tname;
  tname.header(1, 0).u64(500).zeros(40);
  EXPECT_REJECTS(tname, "tensor name length 500 runs past the end");
}

// Counts the file can hold but whose decoded values would need ~100x the
// file's size: a 16 MiB file of uint8 elements must not ask for 1.4 GiB (the
// reader's limit is 512 MiB).
TEST(GgufHostile, MetadataThatDecodesTooLarge) {
  const uint64_t n = uint64_t(16) << 20;
  Bytes a;
  a.header(0, 1).str("tokenizer.ggml.precompiled_charsmap").u32(uint32_t(GgufType::ARRAY));
  a.u32(uint32_t(GgufType::UINT8)).u64(n).zeros(n);
  EXPECT_REJECTS(a, "metadata tokenizer.ggml.precompiled_charsmap: metadata and tensor infos would need more than");
  // Spread over several keys, it adds up just the same.
  Bytes b;
  b.header(0, 16);
  for (int k = 0; k < 16; ++k)
    b.str("k" + std::to_string(k)).u32(uint32_t(GgufType::ARRAY)).u32(uint32_t(GgufType::BOOL)).u64(n / 16).zeros(n / 16);
  EXPECT_REJECTS(b, "would need more than");
  // A large real-world vocabulary is far below the limit.
  Bytes ok;
  ok.header(0, 1).str("tokenizer.ggml.tokens").u32(uint32_t(GgufType::ARRAY)).u32(uint32_t(GgufType::STRING));
  ok.u64(300000);
  for (int k = 0; k < 300000; ++k) ok.str("tok" + std::to_string(k));
  EXPECT_EQ(limited([&] {
              try {
                auto f = GgufFile::parse(ok.b.data(), ok.b.size(), "vocab.gguf");
                return f->find("tokenizer.ggml.tokens")->arr.size() == 300000 ? std::string() : std::string("size");
              } catch (const std::exception& e) {
                return std::string(e.what());
              }
            }),
            "");
}

TEST(GgufHostile, ArraysNestedTooDeep) {
  for (int depth : {5, 100, 100000}) {
    Bytes a;
    a.header(0, 1).str("deep").u32(uint32_t(GgufType::ARRAY));
    for (int d = 0; d < depth; ++d) a.u32(uint32_t(GgufType::ARRAY)).u64(1);
    a.u32(uint32_t(GgufType::UINT8)).u64(1).u8(0);
    EXPECT_REJECTS(a, "metadata deep: arrays nested too deeply") << depth;
  }
  Bytes ok;  // four levels are fine
  ok.header(0, 1).str("deep").u32(uint32_t(GgufType::ARRAY));
  for (int d = 0; d < 3; ++d) ok.u32(uint32_t(GgufType::ARRAY)).u64(1);
  ok.u32(uint32_t(GgufType::UINT8)).u64(1).u8(0);
  EXPECT_NO_THROW(GgufFile::parse(ok.b.data(), ok.b.size(), "ok.gguf"));
}

TEST(GgufHostile, BadTensorShapes) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type = 0) {
    Bytes t;
    t.header(1, 0).tensor("w", std::move(ne), type, 0).pad().zeros(4096);
    return t;
  };
  EXPECT_REJECTS(one({1, 1, 1, 1, 1}), "tensor w: 5 dimensions (at most 4)");
  Bytes nd;
  nd.header(1, 0).str("w").u32(0xffffffffu).zeros(64);
  EXPECT_REJECTS(nd, "tensor w: 4294967295 dimensions");
  EXPECT_REJECTS(one({0}), "tensor w: dimension 0 is 0");
  EXPECT_REJECTS(one({4, uint64_t(1) << 62}), "tensor w: dimension 1 is 4611686018427387904");
  EXPECT_REJECTS(one({~uint64_t(0)}), "tensor w: dimension 0 is 18446744073709551615");
  // Each dimension is plausible, the product overflows 64 (and 128) bits.
  uint64_t d40 = uint64_t(1) << 40;
  EXPECT_REJECTS(one({d40, d40, d40, d40}), "tensor w: element count overflows");
  EXPECT_REJECTS(one({d40, d40}), "tensor w: element count overflows");
  EXPECT_REJECTS(one({1 << 20, 1 << 20, 1 << 20}), "tensor w: element count overflows");
  // Large but representable: the data is missing.
  EXPECT_REJECTS(one({1 << 20, 1 << 20}), "tensor w: data (offset 0, 4398046511104 bytes) runs past the end");
  // Q8_0 rows must be whole blocks of 32.
  EXPECT_REJECTS(one({31}, uint32_t(TypeId::Q8_0)), "tensor w: row length 31 is not a multiple of the q8_0 block size 32");
}

TEST(GgufHostile, UnknownTensorTypes) {
  for (uint32_t type : {4u, 5u, 31u, 36u, 39u, 40u, 1000u, 0xffffffffu}) {
    Bytes t;
    t.header(1, 0).tensor("w", {32}, type, 0).pad().zeros(4096);
    EXPECT_REJECTS(t, "tensor w: unknown or unsupported tensor type " + std::to_string(type));
  }
}

TEST(GgufHostile, BadTensorNames) {
  Bytes empty;
  empty.header(1, 0).tensor("", {4}, 0, 0).pad().zeros(32);
  EXPECT_REJECTS(empty, "invalid name length");
  Bytes longname;
  longname.header(1, 0).tensor(std::string(1000, 'n'), {4}, 0, 0).pad().zeros(32);
  EXPECT_REJECTS(longname, "invalid name length");
  Bytes dup;
  dup.header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad().zeros(64);
  EXPECT_REJECTS(dup, "duplicate tensor name w");
}

TEST(GgufHostile, BadOffsets) {
  Bytes past;
  past.header(1, 0).tensor("w", {8}, 0, 64).pad().zeros(64);
  EXPECT_REJECTS(past, "tensor w: data (offset 64, 32 bytes) runs past the end");
  Bytes wrap;  // offset + size wraps around 2^64
  wrap.header(1, 0).tensor("w", {8}, 0, ~uint64_t(31)).pad().zeros(64);
  EXPECT_REJECTS(wrap, "runs past the end");
  Bytes mis;
  mis.header(1, 0).tensor("w", {8}, 0, 4).pad().zeros(64);
  EXPECT_REJECTS(mis, "tensor w: offset 4 is not aligned to 32");
  Bytes mis64;
  mis64.header(1, 1).kv_u32("general.alignment", 64).tensor("w", {8}, 0, 32).pad(64).zeros(128);
  EXPECT_REJECTS(mis64, "tensor w: offset 32 is not aligned to 64");
  Bytes nodata;  // tensor infos end right at the end of the file
  nodata.header(1, 0).tensor("w", {8}, 0, 0);
  EXPECT_REJECTS(nodata, "");
}

TEST(GgufHostile, BadAlignment) {
  // Each value is told which rule it breaks (2^31 is a power of two: too large).
  const std::pair<uint32_t, const char*> cases[] = {
      {0u, "must be a positive power of two"}, {1u, "is not a multiple of 8"}, {4u, "is not a multiple of 8"},
      {12u, "is not a power of two"},           {48u, "is not a power of two"},
      {1u << 21, "is too large (at most 1048576)"}, {1u << 31, "is too large (at most 1048576)"},
      {0xffffffffu, "is too large (at most 1048576)"}};
  for (const auto& c : cases) {  // not a structured binding: clang 14 cannot capture one
    Bytes t;
    t.header(0, 1).kv_u32("general.alignment", c.first);
    const std::string needle = "general.alignment " + std::to_string(c.first) + " " + c.second;
    EXPECT_REJECTS(t, needle);
  }
  Bytes big;  // uint64 above 2^63
  big.header(0, 1).str("general.alignment").u32(uint32_t(GgufType::UINT64)).u64(~uint64_t(0));
  EXPECT_REJECTS(big, "general.alignment 18446744073709551615 is too large");
  Bytes neg;
  neg.header(0, 1).str("general.alignment").u32(uint32_t(GgufType::INT32)).u32(uint32_t(-32));
  EXPECT_REJECTS(neg, "general.alignment -32 must be a positive power of two");
  Bytes str;
  str.header(0, 1).kv_str("general.alignment", "32");
  EXPECT_REJECTS(str, "general.alignment is not an integer");
  Bytes flt;
  flt.header(0, 1).str("general.alignment").u32(uint32_t(GgufType::FLOAT32)).u32(0x42000000u);
  EXPECT_REJECTS(flt, "general.alignment is not an integer");
  Bytes ok;  // uint64 64 is fine
  ok.header(0, 1).str("general.alignment").u32(uint32_t(GgufType::UINT64)).u64(64);
  EXPECT_EQ(GgufFile::parse(ok.b.data(), ok.b.size(), "ok.gguf")->alignment(), 64u);
}

// Typed getters on a value of the wrong type name the file and key.
TEST(GgufHostile, WrongTypedMetadataNamesFileAndKey) {
  Bytes t;
  t.header(0, 2).kv_str("general.architecture", "llama").str("llama.block_count").u32(uint32_t(GgufType::UINT64)).u64(
      ~uint64_t(0));
  auto f = GgufFile::parse(t.b.data(), t.b.size(), "typed.gguf");
  try {
    f->get_int("llama.block_count", 0);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("typed.gguf: metadata llama.block_count: ", 0), 0u) << e.what();
  }
  try {
    f->get_int("general.architecture", 0);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("typed.gguf: metadata general.architecture: expected an integer", 0), 0u)
        << e.what();
  }
}

// Random byte flips of a valid file: any outcome but a crash or a non-InputError.
TEST(GgufHostile, RandomCorruption) {
  auto bytes = small_valid_file(test::scratch_dir());
  EXPECT_EQ(limited([&] {
              std::string failures;
              uint64_t s = 0x9e3779b97f4a7c15ull;
              auto next = [&] {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                return s;
              };
              for (int iter = 0; iter < 20000; ++iter) {
                auto b = bytes;
                int flips = 1 + int(next() % 4);
                for (int k = 0; k < flips; ++k) {
                  size_t pos = size_t(next() % b.size());
                  uint64_t r = next();
                  b[pos] = (r & 1) ? uint8_t(r >> 8) : uint8_t(b[pos] ^ (1u << ((r >> 8) % 8)));
                }
                try {
                  GgufFile::parse(b.data(), b.size(), "flip.gguf");
                } catch (const InputError& e) {
                  if (std::string(e.what()).rfind("flip.gguf: ", 0) != 0) failures += std::string(e.what()) + "\n";
                } catch (const std::exception& e) {
                  failures += std::string("wrong exception: ") + e.what() + "\n";
                }
              }
              return failures;
            }),
            "");
}
