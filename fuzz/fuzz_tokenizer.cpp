// libFuzzer target for the tokenizers. Vocabularies come from the GGUF files
// in $QINFER_SHARED_DATA/vocab (default: the path the build was configured
// with). Input byte 0 picks the vocabulary and the add_special/parse_special
// flags; the rest is the text. Any bytes must tokenize to ids in range and
// decode again, without crashing, UB or an exception.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "qinfer/core/error.h"
#include "qinfer/formats/gguf.h"
#include "qinfer/tokenizer/tokenizer.h"

#ifndef QINFER_SHARED_DATA
#define QINFER_SHARED_DATA "../shared/data"
#endif

using namespace qinfer;

namespace {

std::vector<std::unique_ptr<Tokenizer>>& tokenizers() {
  static std::vector<std::unique_ptr<Tokenizer>> t;
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("QINFER_SHARED_DATA");
  const std::filesystem::path dir = std::filesystem::path(env ? env : QINFER_SHARED_DATA) / "vocab";
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".gguf") files.push_back(e.path());
  std::sort(files.begin(), files.end());  // stable vocabulary numbering across runs
  for (const auto& p : files) {
    try {
      auto g = GgufFile::open(p.string());
      tokenizers().push_back(std::make_unique<Tokenizer>(vocab_from_gguf(*g)));
      std::fprintf(stderr, "fuzz_tokenizer: vocab %zu = %s\n", tokenizers().size() - 1, p.filename().c_str());
    } catch (const Error& e) {
      std::fprintf(stderr, "fuzz_tokenizer: skipping %s: %s\n", p.c_str(), e.what());
    }
  }
  if (tokenizers().empty()) {
    std::fprintf(stderr, "fuzz_tokenizer: no vocabulary loaded from %s\n", dir.c_str());
    std::exit(77);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& all = tokenizers();
  const Tokenizer& tok = *all[(data[0] & 0x0f) % all.size()];
  const bool add_special = data[0] & 0x10;
  const bool parse_special = data[0] & 0x20;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) {
      std::fprintf(stderr, "fuzz_tokenizer: id %d out of range [0, %d)\n", id, tok.n_vocab());
      std::abort();
    }
    (void)tok.token_to_piece(id, data[0] & 0x40);
  }
  (void)tok.decode(ids, data[0] & 0x80);
  return 0;
}
