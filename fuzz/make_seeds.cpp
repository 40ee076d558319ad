// Writes a small seed corpus for the fuzz targets at run time (nothing
// binary is committed):
//   make_seeds gguf <dir>                 small GGUF files made by GgufWriter
//   make_seeds tokenizer <dir> <vocab>    texts from llama.cpp's *.inp vectors
//   make_seeds jinja <dir> <templates> <cases.json>  chat templates and the
//                                         semantics cases' templates
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf_writer.h"

using namespace qinfer;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir / name, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string to_bytes(const GgufWriter& w) {
  std::string s;
  w.write_to([&](const void* p, size_t n) { s.append(static_cast<const char*>(p), n); });
  return s;
}

void gguf_seeds(const fs::path& dir) {
  static const float f[64] = {1, -2, 3.5f, 0, 1e-3f, 7};
  {
    GgufWriter w;
    put(dir, "empty.gguf", to_bytes(w));
  }
  {
    GgufWriter w;  // every scalar type
    w.set_string("general.architecture", "llama");
    w.set_uint8("a.u8", 1); w.set_int8("a.i8", -1); w.set_uint16("a.u16", 2); w.set_int16("a.i16", -2);
    w.set_uint32("a.u32", 3); w.set_int32("a.i32", -3); w.set_uint64("a.u64", 4); w.set_int64("a.i64", -4);
    w.set_float32("a.f32", 0.5f); w.set_float64("a.f64", 0.25); w.set_bool("a.b", true); w.set_string("a.s", "text");
    put(dir, "scalars.gguf", to_bytes(w));
  }
  {
    GgufWriter w;  // arrays, nested arrays, tokenizer-like metadata
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_array<std::string>("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "b"});
    w.set_array<float>("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
    w.set_array<int32_t>("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
    w.set_array<bool>("a.bools", {true, false});
    w.set_array<uint64_t>("a.u64s", {1, 2, 3});
    w.set("a.nested", gguf_array(GgufType::ARRAY, {gguf_array(GgufType::INT8, {gguf_scalar(int8_t(5))}),
                                                   gguf_array(GgufType::INT8, {})}));
    put(dir, "arrays.gguf", to_bytes(w));
  }
  {
    GgufWriter w;  // tensors of several types, default alignment
    w.set_string("general.architecture", "llama");
    w.set_uint32("general.quantization_version", 2);
    w.add_tensor("token_embd.weight", TypeId::F32, {4, 2}, f, 32);
    w.add_tensor("blk.0.attn_q.weight", TypeId::F16, {8}, f, 16);
    w.add_tensor("blk.0.ffn_up.weight", TypeId::Q8_0, {32, 1}, f, 34);
    w.add_tensor("output_norm.weight", TypeId::F32, {2, 1, 1, 2}, f, 16);
    put(dir, "tensors.gguf", to_bytes(w));
  }
  {
    GgufWriter w;  // other alignment
    w.set_alignment(64);
    w.add_tensor("a", TypeId::F32, {3}, f, 12);
    w.add_tensor("b", TypeId::F32, {5}, f, 20);
    put(dir, "align64.gguf", to_bytes(w));
  }
  {
    GgufWriter w;  // minimal alignment, many small tensors
    w.set_alignment(8);
    for (int k = 0; k < 6; ++k) w.add_tensor("t" + std::to_string(k), TypeId::F32, {k + 1}, f, size_t(4 * (k + 1)));
    put(dir, "align8.gguf", to_bytes(w));
  }
}

void tokenizer_seeds(const fs::path& dir, const fs::path& vocab) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(vocab, ec)) {
    if (e.path().extension() != ".inp") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string raw = ss.str();
    size_t pos = 0;
    while (pos < raw.size() && n < 400) {
      size_t next = raw.find(sep, pos);
      std::string text = raw.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      pos = next == std::string::npos ? raw.size() : next + sep.size();
      // The first byte picks vocabulary and flags; spread them over the seeds.
      put(dir, "text" + std::to_string(n), std::string(1, char(n * 37)) + text);
      ++n;
    }
  }
  for (const char* s : {"<s>hello</s>", "<|endoftext|>a", "[CLS] x [SEP]", "\xff\xfe\xc3", "   \n\n\t  x"})
  {
    put(dir, "special" + std::to_string(n), std::string(1, char(0x30 + n)) + s);
    ++n;
  }
}

void jinja_seeds(const fs::path& dir, const fs::path& templates, const fs::path& cases) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(templates, ec)) {
    if (e.path().extension() != ".jinja") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    put(dir, "template" + std::to_string(n++), ss.str());
  }
  std::ifstream in(cases);
  if (in) {
    const nlohmann::json doc = nlohmann::json::parse(in);
    for (const auto& c : doc["cases"]) put(dir, "case" + std::to_string(n++), c["template"].get<std::string>());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kind = argc > 2 ? argv[1] : "";
  if (kind != "gguf" && !(kind == "tokenizer" && argc > 3) && !(kind == "jinja" && argc > 4)) {
    std::fprintf(stderr,
                 "usage: make_seeds gguf <dir> | make_seeds tokenizer <dir> <vocab-dir> | "
                 "make_seeds jinja <dir> <templates-dir> <cases.json>\n");
    return 2;
  }
  try {
    fs::create_directories(argv[2]);
    if (kind == "gguf") gguf_seeds(argv[2]);
    else if (kind == "jinja") jinja_seeds(argv[2], argv[3], argv[4]);
    else tokenizer_seeds(argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
