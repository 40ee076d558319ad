// Supported architectures and the weight names they use. Weight names are an
// API: the loader, the writer and the converter all use this one table.
#pragma once
#include <string>
#include <string_view>

#include "qinfer/model/config.h"

namespace qinfer {

struct ArchInfo {
  const char* name;         // GGUF general.architecture
  RopeLayout rope_layout;   // how the architecture's Q/K rows are laid out
  bool qkv_bias;            // attn_q/k/v carry biases
};

// nullptr for an architecture qinfer does not run.
const ArchInfo* find_arch(std::string_view name);
// "llama, qwen2" — for error messages.
std::string supported_archs();

namespace names {
inline const std::string token_embd = "token_embd.weight";
inline const std::string output_norm = "output_norm.weight";
inline const std::string output = "output.weight";
// blk.<layer>.<part>.weight, e.g. layer(3, "attn_q") == "blk.3.attn_q.weight".
std::string layer(int il, std::string_view part, std::string_view suffix = "weight");
}  // namespace names

}  // namespace qinfer
