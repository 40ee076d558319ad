// Tensor element types. The numbers are GGUF's ggml_type ids: they are on disk,
// so they never move; new types append.
#pragma once
#include <cstdint>

namespace qinfer {

enum class TypeId : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

constexpr uint32_t kTypeIdLimit = 40;  // every GGUF id is below this

}  // namespace qinfer
