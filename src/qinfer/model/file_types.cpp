#include "qinfer/model/file_types.h"


#include "qinfer/core/ascii.h"
#include "qinfer/core/error.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer {

namespace {

constexpr FileTypeInfo kFileTypes[] = {
    {"Q4_0", FileType::MOSTLY_Q4_0, TypeId::Q4_0, true},       {"Q4_1", FileType::MOSTLY_Q4_1, TypeId::Q4_1, true},
    {"Q5_0", FileType::MOSTLY_Q5_0, TypeId::Q5_0, true},       {"Q5_1", FileType::MOSTLY_Q5_1, TypeId::Q5_1, true},
    {"Q8_0", FileType::MOSTLY_Q8_0, TypeId::Q8_0, true},       {"Q2_K", FileType::MOSTLY_Q2_K, TypeId::Q2_K, false},
    {"Q3_K_S", FileType::MOSTLY_Q3_K_S, TypeId::Q3_K, false},  {"Q3_K_M", FileType::MOSTLY_Q3_K_M, TypeId::Q3_K, false},
    {"Q3_K_L", FileType::MOSTLY_Q3_K_L, TypeId::Q3_K, false},  {"Q4_K_S", FileType::MOSTLY_Q4_K_S, TypeId::Q4_K, false},
    {"Q4_K_M", FileType::MOSTLY_Q4_K_M, TypeId::Q4_K, false},  {"Q5_K_S", FileType::MOSTLY_Q5_K_S, TypeId::Q5_K, false},
    {"Q5_K_M", FileType::MOSTLY_Q5_K_M, TypeId::Q5_K, false},  {"Q6_K", FileType::MOSTLY_Q6_K, TypeId::Q6_K, true},
    {"IQ4_NL", FileType::MOSTLY_IQ4_NL, TypeId::IQ4_NL, false}, {"F16", FileType::MOSTLY_F16, TypeId::F16, true},
    {"BF16", FileType::MOSTLY_BF16, TypeId::BF16, true},       {"F32", FileType::ALL_F32, TypeId::F32, true},
    // qinfer-only: bitsandbytes' NF4/FP4 (with double-quantized absmax: _DQ), its int4 code book, LLM.int8.
    // Not uniform: the embedding and the classifier keep their type (as transformers' load_in_4bit/8bit).
    {"NF4", FileType::MOSTLY_NF4, TypeId::NF4, false},         {"NF4_DQ", FileType::MOSTLY_NF4_DQ, TypeId::NF4_DQ, false},
    {"FP4", FileType::MOSTLY_FP4, TypeId::FP4, false},         {"FP4_DQ", FileType::MOSTLY_FP4_DQ, TypeId::FP4_DQ, false},
    {"INT4", FileType::MOSTLY_INT4, TypeId::INT4, false},      {"INT8", FileType::MOSTLY_INT8, TypeId::INT8, false},
};

// llama-quantize's short names for the medium mixes.
// NF4+DQ, FP4+DQ: the quality table's names for the double-quantized files.
constexpr std::pair<const char*, const char*> kAliases[] = {
    {"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}, {"NF4+DQ", "NF4_DQ"}, {"FP4+DQ", "FP4_DQ"}};

}  // namespace

std::span<const FileTypeInfo> file_types() { return kFileTypes; }

const FileTypeInfo* find_file_type(std::string_view name) {
  for (const auto& [alias, target] : kAliases)
    if (ascii_iequals(name, alias)) name = target;
  for (const FileTypeInfo& ft : kFileTypes)
    if (ascii_iequals(name, ft.name)) return &ft;
  return nullptr;
}

const FileTypeInfo& parse_file_type(std::string_view name) {
  const FileTypeInfo* ft = find_file_type(name);
  if (!ft)
    throw InputError("unknown quantization type '" + std::string(name) + "'; valid types: " + file_type_names() +
                     " (Q3_K, Q4_K, Q5_K mean the _M mixes)");
  return *ft;
}

std::string file_type_names() {
  std::string s;
  for (const FileTypeInfo& ft : kFileTypes) {
    if (!s.empty()) s += ' ';
    s += ft.name;
  }
  return s;
}

const FileTypeInfo* find_file_type(int64_t ftype) {
  for (const FileTypeInfo& ft : kFileTypes)
    if (int64_t(ft.ftype) == ftype) return &ft;
  return nullptr;
}

const FileTypeInfo& uniform_file_type(TypeId type) {
  for (const FileTypeInfo& ft : kFileTypes)
    if (ft.uniform && ft.base == type) return ft;
  const TypeInfo* info = find_type(type);
  throw InputError(std::string("type ") + (info ? info->name : "?") + " has no llama.cpp file type");
}

}  // namespace qinfer
