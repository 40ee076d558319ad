// Supported architectures (their weight names: weight_names.h).
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

}  // namespace qinfer
