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

ModelConfig complete_config(ModelConfig c) {
  if (c.head_dim <= 0 && c.n_head > 0) c.head_dim = c.n_embd / c.n_head;
  if (c.rope.n_rot <= 0) c.rope.n_rot = c.head_dim;
  if (const ArchInfo* a = find_arch(c.arch)) {
    c.rope.layout = a->rope_layout;
    c.qkv_bias = a->qkv_bias;
  }
  return c;
}

std::string supported_archs() {
  std::string s;
  for (const ArchInfo& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

}  // namespace qinfer
