#include "qinfer/model/arch.h"

namespace qinfer {

namespace {
// Mistral, TinyLlama and Llama-3 files all say "llama"; they differ only in
// hyper-parameters (GQA, rope base and scaling), which the config carries.
constexpr ArchInfo kArchs[] = {
    {"llama", RopeLayout::Norm, false},
    {"qwen2", RopeLayout::Neox, true},
};
}  // namespace

const ArchInfo* find_arch(std::string_view name) {
  for (const ArchInfo& a : kArchs)
    if (name == a.name) return &a;
  return nullptr;
}

std::string supported_archs() {
  std::string s;
  for (const ArchInfo& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

std::string names::layer(int il, std::string_view part, std::string_view suffix) {
  return "blk." + std::to_string(il) + "." + std::string(part) + "." + std::string(suffix);
}

}  // namespace qinfer
