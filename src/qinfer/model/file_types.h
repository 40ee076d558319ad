// llama.cpp's file types: llama-quantize's names and the llama_ftype numbers
// written as general.file_type. The one place those numbers live: quantize
// takes its targets from here, create and convert the number they write, and
// run records the name they store. qinfer's own file types (NF4, FP4, INT4,
// INT8: tensor types llama.cpp does not have) sit far above llama's numbers.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "qinfer/quant/type_id.h"

namespace qinfer {

// llama_ftype values (include/llama.h); they are on disk, so they never move.
enum class FileType : uint32_t {
  ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7, MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9, MOSTLY_Q2_K = 10, MOSTLY_Q3_K_S = 11, MOSTLY_Q3_K_M = 12, MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14, MOSTLY_Q4_K_M = 15, MOSTLY_Q5_K_S = 16, MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18,
  MOSTLY_IQ4_NL = 25, MOSTLY_BF16 = 32,
  // qinfer-only file types (tensor types llama.cpp does not have), far above llama's.
  MOSTLY_NF4 = 1024, MOSTLY_FP4 = 1025, MOSTLY_INT8 = 1026, MOSTLY_NF4_DQ = 1027, MOSTLY_FP4_DQ = 1028, MOSTLY_INT4 = 1029,
};

struct FileTypeInfo {
  const char* name;   // llama-quantize's name: "Q4_K_M"
  FileType ftype;
  TypeId base;        // the type of most tensors (llama.cpp's default_type)
  bool uniform;       // every weight matrix may be `base` (not a mix of types)
};

// Every accepted target, aliases (Q3_K = Q3_K_M, ...) excluded.
std::span<const FileTypeInfo> file_types();
// Case-insensitive; accepts the aliases Q3_K, Q4_K, Q5_K (the _M mixes) and
// NF4+DQ, FP4+DQ (= NF4_DQ, FP4_DQ). nullptr when unknown.
const FileTypeInfo* find_file_type(std::string_view name);
// Like find_file_type, but throws InputError listing the valid names.
const FileTypeInfo& parse_file_type(std::string_view name);
// "Q4_0 Q4_1 ... F32" for messages and help.
std::string file_type_names();
// By general.file_type's number; nullptr for a number not listed here.
const FileTypeInfo* find_file_type(int64_t ftype);
// The file type of a file whose matrices are all `type` (create, convert);
// InputError for a type llama.cpp has no such file type for.
const FileTypeInfo& uniform_file_type(TypeId type);

}  // namespace qinfer
